# One image recipe for every binary in the repository: the three stages, the
# relay binary (all-in-one, dev connector, operator CLI) and the example echo
# agent. Build context: the repository root. docker-compose.yml and
# `make images` pass the build arguments; by hand:
#
#   docker build --build-arg MODULE=services/ws-edge --build-arg BIN=ws-edge \
#     --build-arg HEALTH_PORT=8081 --build-arg VERSION=1.2.3 -t relaybus/ws-edge .
#
# MODULE       the module directory holding the main package
# BIN          the binary's name (and the image's entrypoint)
# DESCRIPTION  the image's description label
# HEALTH_PORT  the ops port: exposed, and polled at /healthz by the image's
#              healthcheck; empty for a binary without one
# PORTS        further ports to expose
# VERSION      the version set by ldflags (internal/stage.Version)
FROM golang:1.26 AS build
ARG MODULE
ARG VERSION=0.1.0
# Each module builds alone (GOWORK=off) through its replace lines, so the
# build sees only the modules it imports, and go.work may grow freely.
ENV GOWORK=off CGO_ENABLED=0
WORKDIR /src
# Module files first: the download layer stays cached until a go.mod changes.
COPY pkg/go.mod pkg/go.sum pkg/
COPY internal/go.mod internal/go.sum internal/
COPY services/ws-edge/go.mod services/ws-edge/go.sum services/ws-edge/
COPY services/passthrough-converter/go.mod services/passthrough-converter/go.sum services/passthrough-converter/
COPY services/egress/go.mod services/egress/go.sum services/egress/
COPY cmd/relay/go.mod cmd/relay/go.sum cmd/relay/
COPY examples/echo-agent/go.mod examples/echo-agent/go.sum examples/echo-agent/
RUN test -n "${MODULE}" && cd "${MODULE}" && go mod download
COPY pkg/ pkg/
COPY internal/ internal/
COPY services/ services/
COPY cmd/relay/ cmd/relay/
COPY examples/echo-agent/ examples/echo-agent/
# The -X is a no-op for a binary that does not link internal/stage (the echo agent).
RUN cd "${MODULE}" && go build -trimpath -ldflags "-X github.com/relaybus/relaybus/internal/stage.Version=${VERSION}" -o /out/app .

FROM alpine:3.20
ARG BIN
ARG DESCRIPTION="relaybus ${BIN}"
ARG VERSION=0.1.0
ARG HEALTH_PORT=
ARG PORTS=
LABEL org.opencontainers.image.title="${BIN}" \
      org.opencontainers.image.description="${DESCRIPTION}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/relaybus/relaybus"
RUN test -n "${BIN}" && adduser -D -u 10001 relay
COPY --from=build /out/app /usr/local/bin/${BIN}
USER relay
WORKDIR /home/relay
ENV RELAYBUS_BIN=${BIN} HEALTH_PORT=${HEALTH_PORT}
EXPOSE ${HEALTH_PORT} ${PORTS}
# SIGTERM drains every stage: ws-edge sends going_idle and finishes in-flight
# publishes and acks; the converter and egress finish in-flight messages
# (*_SHUTDOWN_TIMEOUT); all drain NATS.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s \
    CMD [ -z "$HEALTH_PORT" ] || wget -q -O - "http://localhost:$HEALTH_PORT/healthz" || exit 1
# exec: the binary is PID 1 and gets the signals; the container's command
# line (compose's command:, docker run's arguments) are its arguments.
ENTRYPOINT ["/bin/sh", "-c", "exec \"$RELAYBUS_BIN\" \"$@\"", "--"]
