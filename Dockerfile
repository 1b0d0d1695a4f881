# One recipe for every image in the repository: the three stages, the relay
# binary (all-in-one, dev connector, operator CLI), the example echo agent,
# and a NATS server built from the nats-server module relaybus embeds. Build
# context: the repository root; one target per image:
#
#   docker build --target ws-edge -t relaybus/ws-edge:0.1.0 .
#
# (targets: ws-edge, passthrough-converter, egress, relay, echo-agent,
# nats-server). `make images` (scripts/images.sh) builds them all;
# docker-compose.yml names the same targets.
#
# Every binary is compiled in the one build stage, in one step, so the
# targets share it: the first target built compiles everything (about two
# minutes on two cores), the others reuse the cached layer. The runtime
# images are FROM scratch: the static binary, CA certificates and a
# non-root user (10001), nothing else; the healthcheck is the binary itself
# (`BIN healthcheck`).
#
# Build arguments:
# GO_IMAGE  the Go toolchain image of the build stage: the official golang
#           image by default; scripts/images.sh makes a stand-in from the
#           machine's own Go for a machine without a registry
# GOPROXY, GOSUMDB, GOPRIVATE, GONOSUMDB
#           module downloads inside the build (through the build's network;
#           scripts/images.sh passes the machine's `go env` values)
# VERSION   the version set by ldflags (internal/stage.Version)
# WARM      third-party packages to compile before the sources (below)
ARG GO_IMAGE=golang:1.26

FROM ${GO_IMAGE} AS build
ARG GOPROXY=https://proxy.golang.org,direct
ARG GOSUMDB=
ARG GOPRIVATE=
ARG GONOSUMDB=
ARG VERSION=0.1.0
# Each module builds alone (GOWORK=off) through its replace lines, so the
# build sees only the modules it imports, and go.work may grow freely.
ENV GOWORK=off CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=local \
    GOPROXY=${GOPROXY} GOSUMDB=${GOSUMDB} GOPRIVATE=${GOPRIVATE} GONOSUMDB=${GONOSUMDB}
WORKDIR /src
# Module files first: the download layer stays cached until a go.mod changes.
COPY pkg/go.mod pkg/go.sum pkg/
COPY internal/go.mod internal/go.sum internal/
COPY services/ws-edge/go.mod services/ws-edge/go.sum services/ws-edge/
COPY services/passthrough-converter/go.mod services/passthrough-converter/go.sum services/passthrough-converter/
COPY services/egress/go.mod services/egress/go.sum services/egress/
COPY cmd/relay/go.mod cmd/relay/go.sum cmd/relay/
COPY examples/echo-agent/go.mod examples/echo-agent/go.sum examples/echo-agent/
RUN for m in pkg internal services/ws-edge services/passthrough-converter services/egress cmd/relay examples/echo-agent; do \
      (cd "$m" && go mod download) || exit 1; \
    done
# WARM (set by scripts/images.sh): the third-party packages the binaries
# import, compiled here, before the sources are copied, into this layer's
# Go build cache, so that a change to relaybus's own code recompiles only
# relaybus (seconds, not minutes). Empty: skipped.
ARG WARM=
RUN if [ -n "$WARM" ]; then cd cmd/relay && go build -trimpath $WARM; fi
# The runtime images' root: CA certificates, a non-root user, a writable
# /data (the JetStream store of the all-in-one and of the NATS image; not
# empty, so that docker copies its owner into a new volume mounted there),
# /tmp.
RUN mkdir -p /rootfs/etc/ssl/certs /rootfs/tmp /rootfs/data /out \
 && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ \
 && echo 'relaybus data directory' > /rootfs/data/.relaybus \
 && echo 'root:x:0:0:root:/:/nonexistent' > /rootfs/etc/passwd \
 && echo 'relay:x:10001:10001:relaybus:/data:/nonexistent' >> /rootfs/etc/passwd \
 && echo 'root:x:0:' > /rootfs/etc/group \
 && echo 'relay:x:10001:' >> /rootfs/etc/group
COPY pkg/ pkg/
COPY internal/ internal/
COPY services/ services/
COPY cmd/relay/ cmd/relay/
COPY examples/echo-agent/ examples/echo-agent/
# All six binaries in one step (one build cache). nats-server is the
# upstream server's own main package, at the version pkg/go.mod requires.
# The -X is a no-op for a binary that does not link internal/stage.
RUN set -e; ld="-s -w -X github.com/relaybus/relaybus/internal/stage.Version=${VERSION}"; \
    for mb in services/ws-edge:ws-edge services/passthrough-converter:passthrough-converter \
              services/egress:egress cmd/relay:relay examples/echo-agent:echo-agent; do \
      (cd "${mb%%:*}" && go build -trimpath -ldflags "$ld" -o "/out/${mb#*:}" .); \
    done; \
    cd pkg && go build -trimpath -ldflags "-s -w" -o /out/nats-server github.com/nats-io/nats-server/v2

FROM scratch AS base
ARG VERSION=0.1.0
# (/data and /tmp are created by their own COPY, so they themselves, not
# only their contents, belong to the user.)
COPY --from=build /rootfs/etc /etc
COPY --from=build --chown=10001:10001 /rootfs/data /data
COPY --from=build --chown=10001:10001 /rootfs/tmp /tmp
USER 10001:10001
WORKDIR /data
ENV PATH=/usr/local/bin
LABEL org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/relaybus/relaybus"
# SIGTERM drains every stage: ws-edge sends going_idle and finishes in-flight
# publishes and acks; the converter and egress finish in-flight messages
# (*_SHUTDOWN_TIMEOUT); all drain NATS.
STOPSIGNAL SIGTERM

FROM base AS ws-edge
COPY --from=build /out/ws-edge /usr/local/bin/ws-edge
LABEL org.opencontainers.image.title="ws-edge" \
      org.opencontainers.image.description="relaybus ws-edge: the connector WebSocket, published to JetStream"
ENV WSEDGE_HTTP_ADDR=:8081
EXPOSE 8081
HEALTHCHECK --interval=10s --timeout=4s --start-period=5s CMD ["/usr/local/bin/ws-edge", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/ws-edge"]

FROM base AS passthrough-converter
COPY --from=build /out/passthrough-converter /usr/local/bin/passthrough-converter
LABEL org.opencontainers.image.title="passthrough-converter" \
      org.opencontainers.image.description="relaybus: raw connector frames -> normalized MessageEvents"
ENV CONVERTER_HTTP_ADDR=:8082
EXPOSE 8082
HEALTHCHECK --interval=10s --timeout=4s --start-period=5s CMD ["/usr/local/bin/passthrough-converter", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/passthrough-converter"]

FROM base AS egress
COPY --from=build /out/egress /usr/local/bin/egress
LABEL org.opencontainers.image.title="egress" \
      org.opencontainers.image.description="relaybus egress: agent reply actions to connector outbound frames"
ENV EGRESS_HTTP_ADDR=:8083
EXPOSE 8083
HEALTHCHECK --interval=10s --timeout=4s --start-period=5s CMD ["/usr/local/bin/egress", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/egress"]

# The all-in-one by default (JetStream store in /data); `devconnector`,
# `tail`, `send`, `dlq`, `bench` as the command. The healthcheck probes the
# all-in-one's /healthz; compose gives the dev connector its own.
FROM base AS relay
COPY --from=build /out/relay /usr/local/bin/relay
LABEL org.opencontainers.image.title="relay" \
      org.opencontainers.image.description="relaybus all-in-one binary, dev connector and operator CLI"
ENV RELAY_HTTP_ADDR=:8080 RELAY_NATS_LISTEN=:4222 RELAY_DATA_DIR=/data
EXPOSE 4222 8080 8090
HEALTHCHECK --interval=10s --timeout=4s --start-period=5s CMD ["/usr/local/bin/relay", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/relay"]

FROM base AS echo-agent
COPY --from=build /out/echo-agent /usr/local/bin/echo-agent
LABEL org.opencontainers.image.title="echo-agent" \
      org.opencontainers.image.description="relaybus example agent"
ENTRYPOINT ["/usr/local/bin/echo-agent"]

# NATS for a machine without a registry (scripts/images.sh): the upstream
# nats-server at the version relaybus embeds, run as the official image runs
# it (client 4222, cluster 6222, monitoring 8222).
FROM base AS nats-server
COPY --from=build /out/nats-server /usr/local/bin/nats-server
LABEL org.opencontainers.image.title="nats-server" \
      org.opencontainers.image.description="nats-server built from the module version relaybus embeds"
EXPOSE 4222 6222 8222
ENTRYPOINT ["/usr/local/bin/nats-server"]
CMD ["-js", "-sd", "/data", "-m", "8222"]
