package relaytest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/natsconn"
	"github.com/relaybus/relaybus/internal/natsembed"
	"github.com/relaybus/relaybus/internal/natstest"
)

// NATS is one embedded JetStream server listening on a loopback TCP port,
// with its file store in a test temp dir, that can be restarted on the same
// port and store.
type NATS struct {
	// Server is the running server (replaced by Restart).
	Server *server.Server
	// StoreDir is the JetStream store directory.
	StoreDir string
}

// StartNATS starts an embedded JetStream server on 127.0.0.1 (random port,
// file store in tb.TempDir()), shut down at cleanup — after everything
// registered later, the stages included, even when it was restarted.
func StartNATS(tb testing.TB) *NATS {
	tb.Helper()
	dir := tb.TempDir()
	n := &NATS{Server: natstest.RunServer(tb, natstest.WithStoreDir(dir)), StoreDir: dir}
	tb.Cleanup(func() { natsembed.Shutdown(n.Server) })
	return n
}

// URL is the server's client URL (nats://127.0.0.1:port).
func (n *NATS) URL() string { return n.Server.ClientURL() }

// Restart shuts the server down and starts a new one on the same port and
// store; clients connected over TCP reconnect by themselves. Unlike
// natstest.Restart, the new server is shut down by StartNATS's cleanup, so
// it outlives the stages registered after StartNATS.
func (n *NATS) Restart(tb testing.TB) {
	tb.Helper()
	// The options of natstest.RunServer, on the same port and store.
	opts := &server.Options{
		ServerName: "test",
		Host:       "127.0.0.1",
		Port:       n.Server.Addr().(*net.TCPAddr).Port,
		JetStream:  true,
		StoreDir:   n.StoreDir,
		NoLog:      true,
		NoSigs:     true,
		MaxPayload: 8 << 20,
	}
	natsembed.Shutdown(n.Server)
	ns, err := natsembed.StartWithOptions(opts, nil, 10*time.Second)
	if err != nil {
		tb.Fatalf("relaytest: restarting nats on port %d: %v", opts.Port, err)
	}
	n.Server = ns
}

// Connect dials url with the options every relaybus stage uses
// (natsconn.Options: reconnect forever, a large reconnect buffer), logging
// connection events to the test output. The connection is closed at cleanup.
func Connect(tb testing.TB, url, name string) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(url, natsconn.Options(name, Logger(tb).With("conn", name))...)
	if err != nil {
		tb.Fatalf("relaytest: connecting %s to %s: %v", name, url, err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// JetStream returns a JetStream context on nc.
func JetStream(tb testing.TB, nc *nats.Conn) jetstream.JetStream {
	tb.Helper()
	return natstest.JetStream(tb, nc)
}

// Logger returns an Info-level logger on the test's output, so stage logs
// show for failing and -v tests without the per-message Debug lines.
func Logger(tb testing.TB) *slog.Logger {
	tb.Helper()
	return slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// Cluster is a JetStream cluster of embedded servers in the test process,
// routed over loopback, each with its own store dir.
type Cluster struct {
	// Servers are the nodes, named n1, n2, ...; a shut-down node stays in
	// the slice (not running).
	Servers []*server.Server
}

// StartCluster starts an n-node JetStream cluster on loopback and waits for
// a JetStream meta leader. Every node is shut down at cleanup.
func StartCluster(tb testing.TB, n int) *Cluster {
	tb.Helper()
	routes := make([]string, n)
	ports := make([]int, n)
	for i := range n {
		addr := FreeAddr(tb)
		routes[i] = "nats-route://" + addr
		fmt.Sscanf(addr[strings.LastIndex(addr, ":")+1:], "%d", &ports[i])
	}
	c := &Cluster{}
	for i := range n {
		var others []string
		for j, r := range routes {
			if j != i {
				others = append(others, r)
			}
		}
		opts := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       server.RANDOM_PORT,
			JetStream:  true,
			StoreDir:   tb.TempDir(),
			NoLog:      true,
			NoSigs:     true,
			MaxPayload: 8 << 20,
			Cluster:    server.ClusterOpts{Name: "relay-test", Host: "127.0.0.1", Port: ports[i]},
			Routes:     server.RoutesFromStr(strings.Join(others, ",")),
		}
		ns, err := natsembed.StartWithOptions(opts, nil, 10*time.Second)
		if err != nil {
			tb.Fatalf("relaytest: starting cluster node %s: %v", opts.ServerName, err)
		}
		tb.Cleanup(func() { natsembed.Shutdown(ns) })
		c.Servers = append(c.Servers, ns)
	}
	nc := Connect(tb, c.URLs(), "cluster-probe")
	js := JetStream(tb, nc)
	natstest.WaitFor(tb, 30*time.Second, func() error {
		for _, ns := range c.Servers {
			if ns.NumRoutes() < n-1 {
				return fmt.Errorf("%s has %d routes, want %d", ns.Name(), ns.NumRoutes(), n-1)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err
	})
	return c
}

// URLs is the comma list of every node's client URL (the NATS_URL of a
// stage connected to the cluster).
func (c *Cluster) URLs() string {
	urls := make([]string, len(c.Servers))
	for i, ns := range c.Servers {
		urls[i] = ns.ClientURL()
	}
	return strings.Join(urls, ",")
}

// Node returns the node named name, or nil.
func (c *Cluster) Node(name string) *server.Server {
	for _, ns := range c.Servers {
		if ns.Name() == name {
			return ns
		}
	}
	return nil
}

// Shutdown stops the node named name and waits until it is down.
func (c *Cluster) Shutdown(tb testing.TB, name string) {
	tb.Helper()
	ns := c.Node(name)
	if ns == nil {
		tb.Fatalf("relaytest: no cluster node %q", name)
	}
	natsembed.Shutdown(ns)
}
