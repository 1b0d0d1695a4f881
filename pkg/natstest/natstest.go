// Package natstest is the test kit of relaybus: a real, embedded
// nats-server with JetStream per test (a fresh temp store, a random
// loopback port, shutdown in t.Cleanup), client connections closed at
// cleanup, polling waits, test loggers and HTTP probes. Startup takes
// milliseconds, so tests never share servers.
//
// Every module's tests use it: the agent client's and the consume loop's
// here, the stages' unit tests, and the process-level fault tests (which
// build on it in tests/internal/relaytest). An agent can test itself
// against a real server the same way:
//
//	ns := natstest.RunServer(t)
//	nc := natstest.Connect(t, ns)
//
// Every helper takes a testing.TB, calls tb.Helper and fails the test on
// error.
package natstest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Option adjusts the server options of RunServer.
type Option func(*server.Options)

// WithStoreDir uses dir as the JetStream store (to restart a server on the
// same data).
func WithStoreDir(dir string) Option { return func(o *server.Options) { o.StoreDir = dir } }

// WithPort listens on a fixed port (to restart a server at the same address).
func WithPort(port int) Option { return func(o *server.Options) { o.Port = port } }

// options returns the options of a test server: loopback, a random port,
// JetStream on a temp store, no logs and no signal handlers, and the
// relay's 8 MiB payload limit, adjusted by opts.
func options(tb testing.TB, opts []Option) *server.Options {
	o := &server.Options{
		ServerName: "test",
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		JetStream:  true,
		StoreDir:   tb.TempDir(),
		NoLog:      true,
		NoSigs:     true,
		MaxPayload: 8 << 20,
	}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// start starts a server and waits until it accepts connections.
func start(tb testing.TB, o *server.Options) *server.Server {
	tb.Helper()
	ns, err := server.NewServer(o)
	if err != nil {
		tb.Fatalf("natstest: new server: %v", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		Shutdown(ns)
		tb.Fatalf("natstest: server %s not ready for connections within 10s", o.ServerName)
	}
	return ns
}

// Shutdown stops ns and waits until it is down.
func Shutdown(ns *server.Server) {
	ns.Shutdown()
	ns.WaitForShutdown()
}

// RunServer starts an embedded JetStream server on 127.0.0.1 with a random
// port and a temp store dir, and shuts it down in Cleanup.
func RunServer(tb testing.TB, opts ...Option) *server.Server {
	tb.Helper()
	ns := start(tb, options(tb, opts))
	tb.Cleanup(func() { Shutdown(ns) })
	return ns
}

// Restart shuts ns down and starts a new server on the same port with
// storeDir (pass the dir given to RunServer with WithStoreDir), registered
// for cleanup like RunServer's. Clients connected with Connect reconnect.
func Restart(tb testing.TB, ns *server.Server, storeDir string, opts ...Option) *server.Server {
	tb.Helper()
	port := ns.Addr().(*net.TCPAddr).Port
	Shutdown(ns)
	return RunServer(tb, append([]Option{WithStoreDir(storeDir), WithPort(port)}, opts...)...)
}

// NATS is an embedded JetStream server on a loopback port with its file
// store in a test temp dir, restartable on the same port and store, that
// outlives everything registered for cleanup after StartNATS (the stages
// under test), restarts included.
type NATS struct {
	// Server is the running server (replaced by Restart).
	Server *server.Server
	// StoreDir is the JetStream store directory.
	StoreDir string

	opts []Option
}

// StartNATS starts a server like RunServer's, with a store dir of its own.
func StartNATS(tb testing.TB, opts ...Option) *NATS {
	tb.Helper()
	n := &NATS{StoreDir: tb.TempDir(), opts: opts}
	n.Server = start(tb, options(tb, slices.Concat(opts, []Option{WithStoreDir(n.StoreDir)})))
	tb.Cleanup(func() { Shutdown(n.Server) })
	return n
}

// URL is the server's client URL (nats://127.0.0.1:port).
func (n *NATS) URL() string { return n.Server.ClientURL() }

// Restart shuts the server down and starts a new one on the same port and
// store; clients connected over TCP reconnect by themselves.
func (n *NATS) Restart(tb testing.TB) {
	tb.Helper()
	n.RestartAfter(tb, 0)
}

// RestartAfter is Restart with the server down for d in between, as a
// server being restarted by its supervisor is.
func (n *NATS) RestartAfter(tb testing.TB, d time.Duration) {
	tb.Helper()
	port := n.Server.Addr().(*net.TCPAddr).Port
	Shutdown(n.Server)
	time.Sleep(d)
	n.Server = start(tb, options(tb, slices.Concat(n.opts, []Option{WithStoreDir(n.StoreDir), WithPort(port)})))
}

// Connect returns a client connection to ns that reconnects forever (every
// 50 ms) and is closed in Cleanup; opts come on top.
func Connect(tb testing.TB, ns *server.Server, opts ...nats.Option) *nats.Conn {
	tb.Helper()
	base := []nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(50 * time.Millisecond), nats.Name(tb.Name())}
	return ConnectURL(tb, ns.ClientURL(), append(base, opts...)...)
}

// ConnectURL connects to url with exactly opts and closes the connection
// in Cleanup.
func ConnectURL(tb testing.TB, url string, opts ...nats.Option) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		tb.Fatalf("natstest: connecting to %s: %v", url, err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// JetStream returns a JetStream context on nc.
func JetStream(tb testing.TB, nc *nats.Conn) jetstream.JetStream {
	tb.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatalf("natstest: jetstream: %v", err)
	}
	return js
}

// Logger returns a Debug-level logger writing to the test's output, so logs
// show only for failing or -v tests.
func Logger(tb testing.TB) *slog.Logger {
	tb.Helper()
	return LevelLogger(tb, slog.LevelDebug)
}

// LevelLogger is Logger at level.
func LevelLogger(tb testing.TB, level slog.Leveler) *slog.Logger {
	tb.Helper()
	return slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: level}))
}

// WaitFor polls cond every 10 ms until it returns nil or timeout passes, and
// fails the test with cond's last error.
func WaitFor(tb testing.TB, timeout time.Duration, cond func() error) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = cond(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("natstest: condition not met within %v: %v", timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Go runs run (a stage's, a loop's or an agent's Run) in a goroutine until
// stop is called or the test ends, whichever comes first: stop cancels
// run's context and waits for it to return, failing the test when it
// returns an error or takes longer than 30 s. stop may be called more than
// once.
func Go(tb testing.TB, name string, run func(context.Context) error) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					tb.Errorf("%s: Run = %v, want nil", name, err)
				}
			case <-time.After(30 * time.Second):
				tb.Errorf("%s: Run did not return within 30s of cancel", name)
			}
		})
	}
	tb.Cleanup(stop)
	return stop
}

// Stored returns the messages stream holds now, oldest first.
func Stored(ctx context.Context, js jetstream.JetStream, stream string) ([]*jetstream.RawStreamMsg, error) {
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, err
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // deleted (acked off a work queue, or purged)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// WaitStored waits until stream holds exactly n messages and returns them,
// oldest first.
func WaitStored(tb testing.TB, js jetstream.JetStream, stream string, n int, timeout time.Duration) []*jetstream.RawStreamMsg {
	tb.Helper()
	var out []*jetstream.RawStreamMsg
	WaitFor(tb, timeout, func() error {
		var err error
		if out, err = Stored(context.Background(), js, stream); err != nil {
			return err
		}
		if len(out) != n {
			return fmt.Errorf("stream %s holds %d messages, want %d", stream, len(out), n)
		}
		return nil
	})
	return out
}
