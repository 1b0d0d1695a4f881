module github.com/relaybus/relaybus/examples/echo-agent

go 1.26.8

require (
	github.com/nats-io/nats.go v1.55.0
	github.com/relaybus/relaybus/pkg v0.0.0-00010101000000-000000000000
)

require (
	github.com/klauspost/compress v1.20.4 // indirect
	github.com/nats-io/nkeys v0.4.17 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

replace github.com/relaybus/relaybus/pkg => ../../pkg
