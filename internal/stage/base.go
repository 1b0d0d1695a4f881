package stage

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Deps are what a stage is built with: each stage package's Deps is this
// type, so whoever builds the stages (the stage binaries, the all-in-one
// stack, the tests) hands the same value to each.
type Deps struct {
	// Log receives the stage's lifecycle and per-message (Debug) logs; nil
	// discards them.
	Log *slog.Logger
	// NC is the stage's own connection (required); its Run drains it on
	// the way out.
	NC *nats.Conn
	// Registerer receives the stage's metrics: the process's registry,
	// served on /metrics of the lifecycle's ops port (a stage serves none
	// of its own). nil makes a registry of the stage's own that nothing
	// serves.
	Registerer prometheus.Registerer
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Base is what every stage's Service is built on: its [Deps] with the
// defaults filled in, and the JetStream context of its connection. A
// stage embeds it; it does not change after [NewBase].
type Base struct {
	Log *slog.Logger
	NC  *nats.Conn
	JS  jetstream.JetStream
	Now func() time.Time
	Reg prometheus.Registerer
}

// NewBase fills in the defaults of d (see [Deps]) and opens the JetStream
// context of d.NC with opts. Without a connection it returns an error
// wrapping errNoConn, the stage's own sentinel for it.
func NewBase(d Deps, errNoConn error, opts ...jetstream.JetStreamOpt) (Base, error) {
	if d.NC == nil {
		return Base{}, fmt.Errorf("%w: Deps.NC is nil", errNoConn)
	}
	b := Base{Log: d.Log, NC: d.NC, Now: d.Now, Reg: d.Registerer}
	if b.Log == nil {
		b.Log = slog.New(slog.DiscardHandler)
	}
	if b.Now == nil {
		b.Now = time.Now
	}
	if b.Reg == nil {
		b.Reg = prometheus.NewRegistry()
	}
	js, err := jetstream.New(d.NC, opts...)
	if err != nil {
		return Base{}, fmt.Errorf("jetstream: %w", err)
	}
	b.JS = js
	return b, nil
}
