module github.com/relaybus/relaybus/tests

go 1.26.8

require (
	github.com/google/go-cmp v0.7.0
	github.com/nats-io/nats-server/v2 v2.15.3
	github.com/nats-io/nats.go v1.55.0
	github.com/prometheus/client_golang v1.25.0
	github.com/relaybus/relaybus/internal v0.0.0-00010101000000-000000000000
	github.com/relaybus/relaybus/pkg v0.0.0-00010101000000-000000000000
	github.com/relaybus/relaybus/services/egress v0.0.0-00010101000000-000000000000
	github.com/relaybus/relaybus/services/passthrough-converter v0.0.0-00010101000000-000000000000
	github.com/relaybus/relaybus/services/ws-edge v0.0.0-00010101000000-000000000000
)

require (
	github.com/antithesishq/antithesis-sdk-go v0.9.0-default-no-op // indirect
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/goccy/go-json v0.12.0 // indirect
	github.com/google/go-tpm v0.9.8 // indirect
	github.com/gorilla/websocket v1.5.3 // indirect
	github.com/hashicorp/golang-lru/v2 v2.0.7 // indirect
	github.com/klauspost/compress v1.20.4 // indirect
	github.com/minio/highwayhash v1.0.4 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/nats-io/jwt/v2 v2.8.3 // indirect
	github.com/nats-io/nkeys v0.4.17 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	github.com/prometheus/client_model v0.6.3 // indirect
	github.com/prometheus/common v0.72.0 // indirect
	github.com/prometheus/procfs v0.22.0 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/term v0.48.0 // indirect
	golang.org/x/time v0.16.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace github.com/relaybus/relaybus/pkg => ../pkg

replace github.com/relaybus/relaybus/internal => ../internal

replace github.com/relaybus/relaybus/services/ws-edge => ../services/ws-edge

replace github.com/relaybus/relaybus/services/passthrough-converter => ../services/passthrough-converter

replace github.com/relaybus/relaybus/services/egress => ../services/egress
