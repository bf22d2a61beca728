# syntax=docker/dockerfile:1
# Build stage: dependencies are compiled in their own layer, cached until Cargo.toml/Cargo.lock change.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && echo '' > src/lib.rs \
    && cargo build --release --locked --bin poolsleuth || true
COPY src ./src
COPY templates ./templates
COPY assets ./assets
COPY data ./data
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin poolsleuth

# Runtime stage: a small Debian with only the binary (templates, styles and the default
# knowledge base are compiled into it).
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin poolsleuth \
    && mkdir -p /data && chown poolsleuth /data
COPY --from=build /src/target/release/poolsleuth /usr/local/bin/poolsleuth
ENV POOLSLEUTH_BIND=0.0.0.0:8080 \
    POOLSLEUTH_DATA_DIR=/data \
    POOLSLEUTH_LOG_FORMAT=json
USER poolsleuth
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/poolsleuth"]
CMD ["serve"]
