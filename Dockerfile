# syntax=docker/dockerfile:1
# The taskbridge container image: the release binary on a distroless base that holds glibc,
# the CA roots and nothing else (no shell, no package manager), run as a non-root user.
#
#   docker build -t taskbridge .
#   docker run -p 127.0.0.1:8080:8080 -v taskbridge-data:/var/lib/taskbridge taskbridge
#
# The base images come from Docker Hub and gcr.io, which the project's build machines
# cannot reach: this file is checked offline by scripts/container_check.py (the toolchain
# is the project's, the build command is the Debian package's, every source file the
# binary is built from is copied in), not built there. docs/install.md has the rest.

# The project's toolchain (Cargo.toml's rust-version), on Debian 12 like the runtime below.
ARG RUST_VERSION=1.95
FROM docker.io/library/rust:${RUST_VERSION}-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY migrations migrations
COPY benches benches
# The same build command as scripts/build_deb.sh; the stripping too.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin taskbridge \
    && strip --strip-unneeded --remove-section=.comment --remove-section=.note \
        -o /taskbridge target/release/taskbridge \
    && mkdir -p /data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /taskbridge /usr/bin/taskbridge
# The data directory, owned by the image's non-root user (65532, "nonroot").
COPY --from=build --chown=65532:65532 /data /var/lib/taskbridge
ENV TASKBRIDGE_ADDR=0.0.0.0:8080 \
    TASKBRIDGE_DATABASE_URL=sqlite:///var/lib/taskbridge/taskbridge.db \
    TASKBRIDGE_ENCRYPTION_KEY_FILE=/var/lib/taskbridge/taskbridge.key
WORKDIR /var/lib/taskbridge
VOLUME /var/lib/taskbridge
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/bin/taskbridge"]
CMD ["serve"]
