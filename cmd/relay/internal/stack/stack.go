// Package stack wires the whole relaybus pipeline into one process: an
// embedded NATS server with JetStream, then ws-edge, the converter and
// egress, each on its own in-process connection, under one ops port
// (/healthz, /readyz, /metrics for all of them). The all-in-one binary and
// relay bench run it; the lifecycle (ops port first, one group, drain on
// the way out) is package stage's.
package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/pprof"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/relaybus/relaybus/internal/natsauth"
	"github.com/relaybus/relaybus/internal/natsconn"
	"github.com/relaybus/relaybus/internal/natsembed"
	"github.com/relaybus/relaybus/internal/ops"
	"github.com/relaybus/relaybus/internal/stage"
	"github.com/relaybus/relaybus/services/egress/egress"
	"github.com/relaybus/relaybus/services/passthrough-converter/converter"
	"github.com/relaybus/relaybus/services/ws-edge/wsedge"
)

// Stages are the three stages' configurations.
type Stages struct {
	Edge      wsedge.Config
	Converter converter.Config
	Egress    egress.Config
}

// StagesFromEnv reads each stage's configuration from its usual
// variables (see each stage's README).
func StagesFromEnv(getenv func(string) string) (Stages, error) {
	var s Stages
	var err error
	if s.Edge, err = wsedge.ConfigFromEnv(getenv); err != nil {
		return s, err
	}
	if s.Converter, err = converter.ConfigFromEnv(getenv); err != nil {
		return s, err
	}
	if s.Egress, err = egress.ConfigFromEnv(getenv); err != nil {
		return s, err
	}
	return s, nil
}

// Config is what a stack runs.
type Config struct {
	Stages
	// NATS is the embedded server (its Log is set from Log).
	NATS natsembed.Config
	// HTTPAddr is the ops port ("" serves none). The stages serve none of
	// their own: their HTTPAddr (a stage binary's ops port) is not used.
	HTTPAddr string
	// Pprof serves /debug/pprof on the ops port (RELAY_PPROF=1).
	Pprof bool
	// Auth, when set, turns the server's authorization on: the stages
	// connect as Auth.Stage (its seed is required), agents and operators
	// with their own keys (natsauth). Nil: no authentication.
	Auth *natsauth.Keys
	// Log receives the stack's logs (each stage's with "stage", the
	// server's with "component": "nats"); nil discards them.
	Log *slog.Logger
}

// Stack is a running pipeline.
type Stack struct {
	*stage.Host
	// NATS is the embedded server.
	NATS      *server.Server
	Edge      *wsedge.Service
	Converter *converter.Service
	Egress    *egress.Service

	log    *slog.Logger
	auth   *natsauth.Keys
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// Start starts a stack — the ops port first, then the server, then the
// stages — and returns once the stages run (not yet ready: see
// [Stack.Ready]). It runs until ctx is done, [Stack.Stop] is called, or a
// stage or a member added with Go returns; then the stages drain, the
// connections are closed and the server is shut down.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	s := &Stack{log: cfg.Log, auth: cfg.Auth, done: make(chan struct{})}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	ctx, s.cancel = context.WithCancel(ctx)
	started := make(chan error, 1)
	go func() {
		defer close(s.done)
		s.err = stage.Serve(ctx, cfg.HTTPAddr, s.log, func(_ context.Context, h *stage.Host) error {
			if cfg.Pprof {
				h.Ops().EnablePprof()
			}
			err := s.start(h, cfg)
			started <- err
			return err
		})
	}()
	select {
	case err := <-started:
		if err != nil {
			<-s.done
			return nil, err
		}
		return s, nil
	case <-s.done: // the ops port could not be bound
		s.cancel()
		return nil, s.err
	}
}

func (s *Stack) start(h *stage.Host, cfg Config) error {
	s.Host = h
	ncfg := cfg.NATS
	if ncfg.Log == nil && cfg.Log != nil {
		ncfg.Log = s.log.With("component", "nats")
	}
	if cfg.Auth != nil {
		if cfg.Auth.Stage.SeedFile == "" {
			return fmt.Errorf("%s: the stages need a seed file, not a public key", natsauth.EnvName(natsauth.Stage))
		}
		ncfg.Users = natsauth.Users(*cfg.Auth)
	}
	ns, err := natsembed.Start(ncfg)
	if err != nil {
		return fmt.Errorf("starting embedded nats: %w", err)
	}
	s.NATS = ns
	h.Defer(func() { natsembed.Shutdown(ns) })
	h.Ops().AddReadiness(ops.Check{Name: "nats", Fn: func(context.Context) error {
		if !ns.Running() || !ns.JetStreamEnabled() {
			return errors.New("embedded server not running")
		}
		return nil
	}})

	st := cfg.Stages
	st.Edge.Version, st.Converter.Version, st.Egress.Version = stage.Version, stage.Version, stage.Version
	deps := func(conn, name string) (d stage.Deps, err error) {
		// Connected under the stage's profile label, so the connection's
		// own goroutines count as the stage's in a CPU profile.
		pprof.Do(context.Background(), pprof.Labels(stage.ProfileLabel, name), func(context.Context) {
			d.NC, err = s.Connect(conn)
		})
		d.Log, d.Registerer = s.log.With("stage", name), h.Registry()
		return d, err
	}
	d, err := deps("ws-edge", "ws-edge")
	if err != nil {
		return err
	}
	if s.Edge, err = wsedge.New(st.Edge, d); err != nil {
		return err
	}
	if d, err = deps("passthrough-converter", "converter"); err != nil {
		return err
	}
	if s.Converter, err = converter.New(st.Converter, d); err != nil {
		return err
	}
	if d, err = deps("egress", "egress"); err != nil {
		return err
	}
	if s.Egress, err = egress.New(st.Egress, d); err != nil {
		return err
	}
	h.Run("ws-edge", s.Edge)
	h.Run("converter", s.Converter)
	h.Run("egress", s.Egress)
	return nil
}

// Connect opens another in-process connection to the embedded server (a
// bench driver's), as the stages' identity when authorization is on,
// closed when the stack has stopped.
func (s *Stack) Connect(name string) (*nats.Conn, error) {
	return s.ConnectAs(name, natsauth.Stage)
}

// ConnectAs opens another in-process connection to the embedded server as
// identity id (natsauth.Stage, Agent or Operator; ignored when
// authorization is off), closed when the stack has stopped. The stages'
// connections use natsconn.InboxPrefix; the others the client's default
// _INBOX, which is what the agent identity may read.
func (s *Stack) ConnectAs(name, id string) (*nats.Conn, error) {
	opts := append(natsconn.Options(name, s.log.With("conn", name)), nats.InProcessServer(s.NATS))
	if id != natsauth.Stage {
		opts = append(opts, nats.CustomInboxPrefix("_INBOX"))
	}
	if s.auth != nil {
		k := s.auth.Of(id)
		if k == nil {
			return nil, fmt.Errorf("connecting %s: unknown identity %q", name, id)
		}
		opt, err := k.ConnectOption()
		if err != nil {
			return nil, fmt.Errorf("connecting %s as %s: %w", name, id, err)
		}
		opts = append(opts, opt)
	}
	nc, err := nats.Connect("", opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting %s to the embedded server: %w", name, err)
	}
	s.Defer(nc.Close)
	return nc, nil
}

// Done is closed once the stack has stopped.
func (s *Stack) Done() <-chan struct{} { return s.done }

// Wait waits until the stack has stopped and returns why: nil after a
// clean shutdown, else the first error of a stage or member.
func (s *Stack) Wait() error {
	<-s.done
	return s.err
}

// Stop stops the stack and waits for it (see Wait).
func (s *Stack) Stop() error {
	s.cancel()
	return s.Wait()
}
