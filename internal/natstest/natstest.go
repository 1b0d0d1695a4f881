// Package natstest runs a real, embedded nats-server with JetStream per
// test: a fresh temp store, a random loopback port, shutdown in t.Cleanup.
// Startup takes milliseconds, so tests never share servers.
package natstest

import (
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/natsembed"
)

// Option adjusts the server options of RunServer.
type Option func(*server.Options)

// WithStoreDir uses dir as the JetStream store (to restart a server on the
// same data).
func WithStoreDir(dir string) Option { return func(o *server.Options) { o.StoreDir = dir } }

// WithPort listens on a fixed port (to restart a server at the same address).
func WithPort(port int) Option { return func(o *server.Options) { o.Port = port } }

// RunServer starts an embedded JetStream server on 127.0.0.1 with a random
// port and a temp store dir, and shuts it down in Cleanup.
func RunServer(tb testing.TB, opts ...Option) *server.Server {
	tb.Helper()
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
	ns, err := natsembed.StartWithOptions(o, nil, 10*time.Second)
	if err != nil {
		tb.Fatalf("natstest: start server: %v", err)
	}
	tb.Cleanup(func() { natsembed.Shutdown(ns) })
	return ns
}

// Restart shuts ns down and starts a new server on the same port with
// storeDir (pass the dir given to RunServer with WithStoreDir), registered
// for cleanup like RunServer's. Clients connected with Connect reconnect.
func Restart(tb testing.TB, ns *server.Server, storeDir string, opts ...Option) *server.Server {
	tb.Helper()
	port := ns.Addr().(*net.TCPAddr).Port
	natsembed.Shutdown(ns)
	return RunServer(tb, append([]Option{WithStoreDir(storeDir), WithPort(port)}, opts...)...)
}

// Connect returns a client connection to ns that reconnects forever and is
// closed in Cleanup.
func Connect(tb testing.TB, ns *server.Server, opts ...nats.Option) *nats.Conn {
	tb.Helper()
	base := []nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(50 * time.Millisecond), nats.Name(tb.Name())}
	nc, err := nats.Connect(ns.ClientURL(), append(base, opts...)...)
	if err != nil {
		tb.Fatalf("natstest: connect: %v", err)
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

// Logger returns a logger writing to the test's output, so logs show only
// for failing or -v tests.
func Logger(tb testing.TB) *slog.Logger {
	tb.Helper()
	return slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
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
