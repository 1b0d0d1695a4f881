package relaytest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/natsconn"
	"github.com/relaybus/relaybus/pkg/natstest"
)

// NATS is an embedded JetStream server on a loopback port, restartable on
// the same port and store, that outlives the stages started after it (see
// [natstest.NATS]).
type NATS = natstest.NATS

// StartNATS starts an embedded JetStream server on 127.0.0.1 (random port,
// file store in tb.TempDir()), shut down at cleanup — after everything
// registered later, the stages included, even when it was restarted.
func StartNATS(tb testing.TB) *NATS {
	tb.Helper()
	return natstest.StartNATS(tb)
}

// Connect dials url with the options every relaybus stage uses
// (natsconn.Options: reconnect forever, a large reconnect buffer), logging
// connection events to the test output. The connection is closed at cleanup.
func Connect(tb testing.TB, url, name string) *nats.Conn {
	tb.Helper()
	return natstest.ConnectURL(tb, url, natsconn.Options(name, Logger(tb).With("conn", name))...)
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
	return natstest.LevelLogger(tb, slog.LevelInfo)
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
		addr := natstest.FreeAddr(tb)
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
		c.Servers = append(c.Servers, natstest.RunServer(tb, func(o *server.Options) {
			o.ServerName = fmt.Sprintf("n%d", i+1)
			o.Cluster = server.ClusterOpts{Name: "relay-test", Host: "127.0.0.1", Port: ports[i]}
			o.Routes = server.RoutesFromStr(strings.Join(others, ","))
		}))
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
	natstest.Shutdown(ns)
}
