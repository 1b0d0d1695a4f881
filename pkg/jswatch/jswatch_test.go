package jswatch_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/relaybus/relaybus/pkg/jswatch"
	"github.com/relaybus/relaybus/pkg/natstest"
)

// noJetStream is a server whose JetStream does not answer, as a server cut
// off from its cluster's JetStream looks to its clients.
func noJetStream(o *server.Options) { o.JetStream = false; o.ServerName = "no-js" }

// unavailable is a server whose JetStream answers with a 503 error (here
// because the client's account has none; a server that lost its cluster's
// metadata leader answers "JetStream system temporarily unavailable").
func unavailable(o *server.Options) {
	acc := server.NewAccount("NOJS")
	o.Accounts = []*server.Account{acc}
	o.NoAuthUser = "u"
	o.Users = []*server.User{{Username: "u", Password: "p", Account: acc}}
}

// watched connects to urls in order (the first one first) and runs the
// watch on the connection until the test ends.
func watched(t *testing.T, urls ...string) *nats.Conn {
	t.Helper()
	nc := natstest.ConnectURL(t, strings.Join(urls, ","),
		nats.DontRandomize(), nats.MaxReconnects(-1), nats.ReconnectWait(10*time.Millisecond))
	natstest.Go(t, "jswatch", func(ctx context.Context) error {
		jswatch.Run(ctx, nc, jswatch.Options{Every: 20 * time.Millisecond, After: 3,
			Moving: func(server string, err error) { t.Logf("moving off %s: %v", server, err) }})
		return nil
	})
	return nc
}

// A client on a server whose JetStream does not answer moves to the server
// of its pool whose JetStream does.
func TestMovesOffAServerWithoutJetStream(t *testing.T) {
	for name, opt := range map[string]natstest.Option{"no responders": noJetStream, "503": unavailable} {
		t.Run(name, func(t *testing.T) { testMoves(t, opt) })
	}
}

func testMoves(t *testing.T, badOpt natstest.Option) {
	bad := natstest.RunServer(t, badOpt)
	good := natstest.RunServer(t)
	nc := watched(t, bad.ClientURL(), good.ClientURL())
	if got := nc.ConnectedUrl(); got != bad.ClientURL() {
		t.Fatalf("connected to %s first, want %s", got, bad.ClientURL())
	}
	natstest.WaitFor(t, 10*time.Second, func() error {
		if got := nc.ConnectedUrl(); got != good.ClientURL() {
			return fmt.Errorf("connected to %s, want the JetStream server %s", got, good.ClientURL())
		}
		return nil
	})
	// There it stays: its JetStream answers.
	reconnects := nc.Stats().Reconnects
	time.Sleep(300 * time.Millisecond) // 15 probes
	if got := nc.Stats().Reconnects; got != reconnects {
		t.Errorf("%d more reconnects on a server whose JetStream answers, want none", got-reconnects)
	}
}

// A client whose JetStream answers stays; a client with nowhere else to go
// stays too.
func TestStays(t *testing.T) {
	good := natstest.RunServer(t)
	other := natstest.RunServer(t)
	alone := natstest.RunServer(t, noJetStream)
	ok := watched(t, good.ClientURL(), other.ClientURL())
	single := watched(t, alone.ClientURL())
	time.Sleep(300 * time.Millisecond) // 15 probes
	if n := ok.Stats().Reconnects; n != 0 || ok.ConnectedUrl() != good.ClientURL() {
		t.Errorf("a client whose JetStream answers reconnected %d times, now on %s", n, ok.ConnectedUrl())
	}
	if n := single.Stats().Reconnects; n != 0 {
		t.Errorf("a client with a single server reconnected %d times; there is nowhere to go", n)
	}
}

// Probe tells a JetStream that answers from one that answers 503 and from
// none at all.
func TestProbe(t *testing.T) {
	for name, c := range map[string]struct {
		opts []natstest.Option
		want error
	}{
		"answers":       {nil, nil},
		"503":           {[]natstest.Option{unavailable}, jswatch.ErrUnavailable},
		"no responders": {[]natstest.Option{noJetStream}, nats.ErrNoResponders},
	} {
		t.Run(name, func(t *testing.T) {
			nc := natstest.ConnectURL(t, natstest.RunServer(t, c.opts...).ClientURL())
			err := jswatch.Probe(context.Background(), nc, 5*time.Second)
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("Probe: %v, want %v", err, c.want)
			}
		})
	}
}

// A user who may not ask for the account's JetStream info (a deployment's
// own permissions) is not moved around: the watch says so once and stops.
func TestDeniedStopsWatching(t *testing.T) {
	deny := func(o *server.Options) {
		o.Users = []*server.User{{Username: "u", Password: "p", Permissions: &server.Permissions{
			Publish: &server.SubjectPermission{Allow: []string{">"}, Deny: []string{"$JS.API.INFO"}}}}}
	}
	a, b := natstest.RunServer(t, deny), natstest.RunServer(t, deny)
	nc := natstest.ConnectURL(t, "nats://u:p@"+a.Addr().String()+",nats://u:p@"+b.Addr().String(),
		nats.DontRandomize(), nats.MaxReconnects(-1), nats.ReconnectWait(10*time.Millisecond))
	errs := make(chan error, 8)
	moved := make(chan string, 8)
	natstest.Go(t, "jswatch", func(ctx context.Context) error {
		jswatch.Run(ctx, nc, jswatch.Options{Every: 20 * time.Millisecond, After: 3,
			Moving: func(server string, _ error) { moved <- server }, OnError: func(err error) { errs <- err }})
		return nil
	})
	select {
	case err := <-errs:
		if !errors.Is(err, jswatch.ErrDenied) {
			t.Fatalf("OnError(%v), want ErrDenied", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no ErrDenied reported")
	}
	time.Sleep(200 * time.Millisecond) // 10 probes, were it still watching
	select {
	case s := <-moved:
		t.Fatalf("moved off %s although the probe was only refused", s)
	case err := <-errs:
		t.Fatalf("reported again: %v", err)
	default:
	}
	if n := nc.Stats().Reconnects; n != 0 {
		t.Errorf("%d reconnects, want none", n)
	}
}
