# syntax=docker/dockerfile:1
# poolsleuth: one static-ish binary with the templates, styles and default knowledge base
# compiled in. Build: docker build -t poolsleuth .
#
# Where the runtime stage takes the binary from: `build` (the default) compiles it below;
# `prebuilt` takes target/release/poolsleuth from the build context, a binary built on a
# Debian bookworm host with `cargo build --release --locked --bin poolsleuth`. CI builds the image
# that way (scripts/image-smoke.sh), so the runtime stage it tests is the one users get.
ARG POOLSLEUTH_BINARY=build

# --- Dependencies, cached in their own layer until Cargo.toml/Cargo.lock change (cargo-chef).
FROM rust:1.95-bookworm AS chef
RUN cargo install --locked cargo-chef@0.1.71
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json --bin poolsleuth
COPY . .
RUN cargo build --release --locked --bin poolsleuth

# --- Or the binary built outside (POOLSLEUTH_BINARY=prebuilt). BuildKit and podman build only
# the stages the target needs, so the default build skips this one (a target/release/poolsleuth
# that came along with `COPY . .` above is replaced by that stage's own cargo build).
FROM scratch AS prebuilt
COPY target/release/poolsleuth /src/target/release/poolsleuth

FROM ${POOLSLEUTH_BINARY} AS binary

# --- Runtime: a small Debian with only the binary, run as an unprivileged user.
FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin poolsleuth \
    && mkdir -p /data \
    && chown poolsleuth:poolsleuth /data
COPY --from=binary /src/target/release/poolsleuth /usr/local/bin/poolsleuth
# Configuration is by environment only; POOLSLEUTH_ADMIN_TOKEN is passed at `docker run`.
# MALLOC_ARENA_MAX: glibc keeps a heap arena per thread that has allocated, and each keeps what
# an import's parsing and indexing freed; two arenas keep resident memory near its working set
# (README, Operations: memory).
ENV POOLSLEUTH_BIND=0.0.0.0:8080 \
    POOLSLEUTH_DATA_DIR=/data \
    POOLSLEUTH_LOG_FORMAT=json \
    POOLSLEUTH_LOG_LEVEL=info \
    MALLOC_ARENA_MAX=2
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/poolsleuth", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/poolsleuth"]
CMD ["serve"]
