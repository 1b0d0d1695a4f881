// Package natstest forwards to the test kit's one implementation,
// github.com/relaybus/relaybus/pkg/natstest, for the importers that have
// not moved to it yet.
//
// Deprecated: import github.com/relaybus/relaybus/pkg/natstest.
package natstest

import kit "github.com/relaybus/relaybus/pkg/natstest"

// Option is [kit.Option].
type Option = kit.Option

// The test kit, see package github.com/relaybus/relaybus/pkg/natstest.
var (
	WithStoreDir = kit.WithStoreDir
	WithPort     = kit.WithPort
	RunServer    = kit.RunServer
	Restart      = kit.Restart
	Connect      = kit.Connect
	JetStream    = kit.JetStream
	Logger       = kit.Logger
	WaitFor      = kit.WaitFor
	FreeAddr     = kit.FreeAddr
	Probe        = kit.Probe
	WantStatus   = kit.WantStatus
)
