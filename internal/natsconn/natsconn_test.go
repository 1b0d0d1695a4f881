package natsconn_test

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/relaybus/relaybus/internal/natsconn"
	"github.com/relaybus/relaybus/internal/stage/stagetest"
	"github.com/relaybus/relaybus/pkg/natstest"
)

const secret = "s3cret-pw"

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://alice:" + secret + "@127.0.0.1:4222", "nats://alice:xxxxx@127.0.0.1:4222"},
		{"tls://alice:" + secret + "@nats.example:4222", "tls://alice:xxxxx@nats.example:4222"},
		{"nats://" + secret + "@127.0.0.1:4222", "nats://xxxxx@127.0.0.1:4222"}, // a token
		{"alice:" + secret + "@127.0.0.1:4222", "alice:xxxxx@127.0.0.1:4222"},   // no scheme
		{
			"nats://a:" + secret + "@n1:4222, nats://n2:4222,nats://b:" + secret + "@n3:4222",
			"nats://a:xxxxx@n1:4222,nats://n2:4222,nats://b:xxxxx@n3:4222",
		},
		{"nats://alice:" + secret + "%zz@127.0.0.1:4222", "nats://xxxxx@127.0.0.1:4222"}, // unparseable
		{"nats://alice:" + secret + "@[::1", "nats://xxxxx@[::1"},
	} {
		if got := natsconn.RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestConnectErrorNeverCarriesTheCredentials(t *testing.T) {
	for _, u := range []string{
		"nats://alice:" + secret + "@127.0.0.1:notaport",
		"nats://alice:" + secret + "%zz@127.0.0.1:4222",
		"nats://127.0.0.1:4222,nats://alice:" + secret + "@[::1",
		"nats://" + secret + "@127.0.0.1:notaport",
	} {
		var logs stagetest.Buffer
		nc, err := natsconn.Connect(natsconn.Config{URL: u}, "test", slog.New(slog.NewTextHandler(&logs, nil)))
		if err == nil {
			nc.Close()
			t.Fatalf("Connect(%q) succeeded, want a parse error", u)
		}
		for _, s := range []string{secret, "s3cret"} {
			if strings.Contains(err.Error(), s) || strings.Contains(logs.String(), s) {
				t.Errorf("Connect(%q): credentials leak:\nerr: %v\nlogs: %s", u, err, logs.String())
			}
		}
		if !strings.Contains(err.Error(), "connecting to nats at") {
			t.Errorf("Connect(%q) = %v, want the context kept", u, err)
		}
	}
}

// TestConnectionLogsNeverCarryTheCredentials connects with a password and
// with a token in the URL to servers that require them, then restarts the
// server so that every callback (disconnect, reconnect, close) logs.
func TestConnectionLogsNeverCarryTheCredentials(t *testing.T) {
	for name, auth := range map[string]struct {
		opt      natstest.Option
		userinfo string
	}{
		"password": {func(o *server.Options) { o.Username, o.Password = "alice", secret }, "alice:" + secret},
		"token":    {func(o *server.Options) { o.Authorization = secret }, secret},
	} {
		t.Run(name, func(t *testing.T) {
			store := t.TempDir()
			ns := natstest.RunServer(t, natstest.WithStoreDir(store), auth.opt)
			port := ns.Addr().(*net.TCPAddr).Port
			u := fmt.Sprintf("nats://%s@127.0.0.1:%d", auth.userinfo, port)
			var logs stagetest.Buffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			nc, err := natsconn.Connect(natsconn.Config{URL: u}, "test", log)
			if err != nil {
				t.Fatal(err)
			}
			natstest.WaitFor(t, 5*time.Second, func() error {
				if !nc.IsConnected() {
					return fmt.Errorf("not connected: %v", nc.Status())
				}
				return nil
			})
			natstest.Restart(t, ns, store, auth.opt)
			natstest.WaitFor(t, 10*time.Second, func() error {
				if !strings.Contains(logs.String(), "nats reconnected") {
					return fmt.Errorf("no reconnect logged yet: %s", logs.String())
				}
				return nil
			})
			if err := natsconn.Drain(nc, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			out := logs.String()
			if !strings.Contains(out, "nats disconnected") || !strings.Contains(out, "nats connection closed") {
				t.Errorf("missing disconnect or close log:\n%s", out)
			}
			if strings.Contains(out, secret) {
				t.Errorf("credentials in the logs:\n%s", out)
			}
		})
	}
}

// TestDrainWhileUnreachable: stopping a stage that never reached NATS is an
// orderly stop, not an error (the binary exits 0 on SIGTERM).
func TestDrainWhileUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	nc, err := natsconn.Connect(natsconn.Config{URL: "nats://" + addr}, "drain-test", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if nc.IsConnected() {
		t.Fatal("connected to a port nothing listens on")
	}
	if err := natsconn.Drain(nc, time.Second); err != nil {
		t.Errorf("Drain = %v, want nil", err)
	}
	if !nc.IsClosed() {
		t.Error("connection not closed after Drain")
	}
}
