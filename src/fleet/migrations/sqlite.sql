-- The fleet's samples, their tags and driver lists (SQLite). The PostgreSQL file beside this
-- one holds the same tables; only the identity columns and the table options differ.
CREATE TABLE hosts (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    first_seen BIGINT NOT NULL,
    -- The newest sample's time (samples may arrive out of order).
    last_seen BIGINT NOT NULL,
    state TEXT NOT NULL,
    tag BIGINT,
    pool BIGINT,
    driver TEXT,
    version TEXT,
    bytes_per_hour DOUBLE PRECISION,
    hours_to_exhaustion DOUBLE PRECISION,
    headline TEXT NOT NULL,
    -- The attribution answer over the host's window, as JSON.
    answer TEXT
);

CREATE TABLE host_tokens (
    -- SHA-256 of the token, in hex: the token itself is shown once and never stored.
    digest TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE samples (
    id INTEGER PRIMARY KEY,
    host_id BIGINT NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    taken_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    paged_bytes BIGINT NOT NULL,
    nonpaged_bytes BIGINT NOT NULL,
    -- Tags the snapshot held; the kept ones are in sample_tags.
    tags_total BIGINT NOT NULL
);
CREATE INDEX samples_by_host_time ON samples (host_id, taken_at);
CREATE INDEX samples_by_time ON samples (taken_at);

-- A tag is its 4 bytes as a little-endian u32 (PoolTag::to_u32_le): exact, trailing blanks
-- and bytes that are not UTF-8 kept.
CREATE TABLE sample_tags (
    sample_id BIGINT NOT NULL REFERENCES samples (id) ON DELETE CASCADE,
    tag BIGINT NOT NULL,
    pool BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    outstanding BIGINT,
    PRIMARY KEY (sample_id, tag, pool)
) WITHOUT ROWID;

-- A host's driver list, stored when it differs from the one before it in time.
CREATE TABLE driver_lists (
    host_id BIGINT NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    since BIGINT NOT NULL,
    -- [[file name, version or null], ...], sorted: what is compared.
    drivers TEXT NOT NULL,
    -- The parsed list (LoadedDriver as JSON), for the analysis.
    list TEXT NOT NULL,
    PRIMARY KEY (host_id, since)
);

-- Raw samples past the retention, rolled up per hour and kept for a year.
CREATE TABLE hourly (
    host_id BIGINT NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    hour BIGINT NOT NULL,
    tag BIGINT NOT NULL,
    pool BIGINT NOT NULL,
    max_bytes BIGINT NOT NULL,
    sum_bytes BIGINT NOT NULL,
    samples BIGINT NOT NULL,
    PRIMARY KEY (host_id, hour, tag, pool)
) WITHOUT ROWID;
