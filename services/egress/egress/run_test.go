package egress_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/relaybus/relaybus/internal/natsconn"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/services/egress/egress"
)

// TestRunServesHealthWhileNATSIsDown: started with NATS unreachable, egress
// answers /healthz at once and /readyz with not-ready (a container's
// healthcheck must not kill it), and stops cleanly when cancelled.
func TestRunServesHealthWhileNATSIsDown(t *testing.T) {
	nc, err := natsconn.Connect(natsconn.Config{URL: "nats://" + natstest.FreeAddr(t)}, "egress-test", natstest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	cfg := testConfig()
	cfg.HTTPAddr = natstest.FreeAddr(t)
	svc, err := egress.New(cfg, egress.Deps{Log: natstest.Logger(t), NC: nc})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()

	natstest.WantStatus(t, 2*time.Second, cfg.HTTPAddr, "/healthz", http.StatusOK)
	if code, err := natstest.Probe(cfg.HTTPAddr, "/readyz"); err != nil || code != http.StatusServiceUnavailable {
		t.Fatalf("GET /readyz with NATS down = %d, %v; want 503", code, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return within 15s of cancellation")
	}
	if _, err := natstest.Probe(cfg.HTTPAddr, "/healthz"); err == nil {
		t.Error("ops server still answering after Run returned")
	}
}

// TestRunOpsPortTaken: the ops port is bound before anything else starts,
// so a taken port makes Run return the bind error and drain NATS.
func TestRunOpsPortTaken(t *testing.T) {
	e := newEnv(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := testConfig()
	cfg.HTTPAddr = taken.Addr().String()
	nc := natstest.Connect(t, e.ns)
	svc, err := egress.New(cfg, egress.Deps{Log: natstest.Logger(t), NC: nc})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(t.Context()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), cfg.HTTPAddr) {
			t.Fatalf("Run = %v, want the bind error for %s", err, cfg.HTTPAddr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s")
	}
	if !nc.IsClosed() {
		t.Error("NATS connection not drained after Run returned")
	}
}
