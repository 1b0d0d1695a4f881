module github.com/relaybus/relaybus/services/passthrough-converter

go 1.26.8

require (
	github.com/relaybus/relaybus/internal v0.0.0-00010101000000-000000000000
	github.com/relaybus/relaybus/pkg v0.0.0-00010101000000-000000000000
)

replace github.com/relaybus/relaybus/pkg => ../../pkg

replace github.com/relaybus/relaybus/internal => ../../internal
