# relaybus — see README.md.
.PHONY: test test-short lint build run dev tidy bench up images fuzz

# The version of every binary, set in one place (package internal/stage).
VERSION ?= 0.1.0
LDFLAGS := -X github.com/relaybus/relaybus/internal/stage.Version=$(VERSION)

# The test command (README): every module, race detector on.
test:
	go test -race -count=1 -timeout 15m work

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

fuzz:
	cd pkg && go test -run '^$$' -fuzz FuzzDecodeFrame -fuzztime 30s ./wire

up:
	docker compose up --build

# Every image (the three stages, relay, the echo agent, and NATS when the
# official image cannot be had), from the one ./Dockerfile, with or without
# a registry; prints their sizes. See scripts/images.sh.
images:
	VERSION=$(VERSION) scripts/images.sh
