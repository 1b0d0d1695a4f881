# relaybus — see README.md.
.PHONY: test test-short test-compose lint build run dev tidy bench up images fuzz

# The version of every binary, set in one place (package internal/stage).
VERSION ?= 0.1.0
LDFLAGS := -X github.com/relaybus/relaybus/internal/stage.Version=$(VERSION)

# The test command (README): every module, race detector on.
test:
	go test -race -count=1 -timeout 15m work

# The container suite (tests/compose, about ten minutes): builds the images
# once (scripts/images.sh), then runs relaybus under docker compose: the dev
# loop, scaled stages, killed replicas, rolling restarts, a NATS restart, a
# three-node cluster losing a node and a partition. Needs a Docker engine
# and docker compose (or docker-compose); without them it skips, or fails
# with RELAYBUS_REQUIRE_DOCKER=1.
test-compose:
	cd tests && RELAYBUS_COMPOSE=1 go test -count=1 -timeout 25m -v ./compose

test-short:
	go test -short -count=1 work

lint:
	gofmt -l $$(git ls-files '*.go')
	go vet work

# The relay binary and the three stage binaries, into bin/.
build:
	go build -ldflags "$(LDFLAGS)" -o bin/ ./cmd/relay ./services/ws-edge ./services/passthrough-converter ./services/egress

run:
	go run -ldflags "$(LDFLAGS)" ./cmd/relay

dev:
	go run -ldflags "$(LDFLAGS)" ./cmd/relay --dev

bench:
	go run -ldflags "$(LDFLAGS)" ./cmd/relay bench

tidy:
	for m in $$(go list -m -f '{{.Dir}}'); do (cd $$m && go mod tidy); done

# Every fuzz target in the repository, FUZZTIME (10s) each: scripts/fuzz.sh.
fuzz:
	scripts/fuzz.sh

# The dev loop under compose (docker compose, or docker-compose where only
# that is installed), from the images of `make images`.
up:
	set -a; [ ! -f .images.env ] || . ./.images.env; set +a; \
	GATEWAY_RELAY_URL=http://devconnector:8090 $$(docker compose version >/dev/null 2>&1 && echo docker compose || echo docker-compose) --profile dev up

# Every image (the three stages, relay, the echo agent, and NATS when the
# official image cannot be had), from the one ./Dockerfile, with or without
# a registry; prints their sizes. See scripts/images.sh.
images:
	VERSION=$(VERSION) scripts/images.sh
