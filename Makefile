# relaybus — see README.md.
.PHONY: test test-short lint run dev tidy bench up fuzz

# The test command (README): every module, race detector on.
test:
	go test -race -count=1 -timeout 15m work

test-short:
	go test -short -count=1 work

lint:
	gofmt -l $$(git ls-files '*.go')
	go vet work

run:
	go run ./cmd/relay

dev:
	go run ./cmd/relay --dev

bench:
	go run ./cmd/relay bench

tidy:
	for m in $$(go list -m -f '{{.Dir}}'); do (cd $$m && go mod tidy); done

fuzz:
	cd pkg && go test -run '^$$' -fuzz FuzzDecodeFrame -fuzztime 30s ./events

up:
	docker compose up --build
