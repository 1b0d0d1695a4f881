module github.com/relaybus/relaybus/cmd/relay

go 1.26.8

require (
	github.com/relaybus/relaybus/internal v0.0.0-00010101000000-000000000000
	github.com/relaybus/relaybus/pkg v0.0.0-00010101000000-000000000000
	github.com/relaybus/relaybus/services/egress v0.0.0-00010101000000-000000000000
	github.com/relaybus/relaybus/services/passthrough-converter v0.0.0-00010101000000-000000000000
	github.com/relaybus/relaybus/services/ws-edge v0.0.0-00010101000000-000000000000
)

replace github.com/relaybus/relaybus/pkg => ../../pkg

replace github.com/relaybus/relaybus/internal => ../../internal

replace github.com/relaybus/relaybus/services/ws-edge => ../../services/ws-edge

replace github.com/relaybus/relaybus/services/passthrough-converter => ../../services/passthrough-converter

replace github.com/relaybus/relaybus/services/egress => ../../services/egress
