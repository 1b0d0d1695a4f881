package converter_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/natsconn"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/services/passthrough-converter/converter"
)

// consumeGoroutines returns the stacks of goroutines running a consume
// loop or the converter's stage.
func consumeGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "pkg/consume.(*Loop)") || strings.Contains(g, "converter.(*Service).runStage") {
			out = append(out, g)
		}
	}
	return out
}

func waitRun(t *testing.T, done <-chan error, within time.Duration) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(within):
		t.Fatalf("Run did not return within %v", within)
		return nil
	}
}

// TestRunOpsPortTakenStartsNothing: the ops port is bound before anything
// else starts, so a taken port makes Run return an error with no consume
// loop left behind, no consumer created, no frame taken and the NATS
// connection drained.
func TestRunOpsPortTakenStartsNothing(t *testing.T) {
	e := newEnv(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	e.publishRaw(t, []byte(`{"type":"inbound","event":{"text":"hi","source":{"platform":"discord","chat_id":"c1","chat_type":"dm","user_id":"u1"}}}`), "b1")

	cfg := converter.DefaultConfig()
	cfg.HTTPAddr = taken.Addr().String()
	cfg.ShutdownTimeout = 2 * time.Second
	nc := natstest.Connect(t, e.ns)
	svc, err := converter.New(cfg, converter.Deps{Log: natstest.Logger(t), NC: nc})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(t.Context()) }()
	err = waitRun(t, done, 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), cfg.HTTPAddr) {
		t.Fatalf("Run = %v, want the bind error for %s", err, cfg.HTTPAddr)
	}
	if !nc.IsClosed() {
		t.Error("NATS connection not drained after Run returned")
	}
	// Give a stray loop time to show itself.
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		if gs := consumeGoroutines(); len(gs) > 0 {
			t.Fatalf("a consume loop is still running after Run returned:\n%s", strings.Join(gs, "\n\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := e.js.Consumer(t.Context(), events.RawStream, cfg.Durable); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Errorf("consumer %s: err = %v, want not found", cfg.Durable, err)
	}
	st, err := e.js.Stream(t.Context(), events.RawStream)
	if err != nil {
		t.Fatal(err)
	}
	if n := st.CachedInfo().State.Msgs; n != 1 {
		t.Errorf("%s holds %d frames, want the 1 published (none taken)", events.RawStream, n)
	}
}

// TestRunServesHealthWhileNATSIsDown: started with NATS unreachable, the
// converter answers /healthz at once and /readyz with not-ready; once NATS
// comes up it creates the streams and becomes ready; it stops cleanly.
func TestRunServesHealthWhileNATSIsDown(t *testing.T) {
	natsAddr := natstest.FreeAddr(t)
	_, portStr, _ := net.SplitHostPort(natsAddr)
	var port int
	fmt.Sscan(portStr, &port)

	nc, err := natsconn.Connect(natsconn.Config{URL: "nats://" + natsAddr}, "converter-test", natstest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if nc.IsConnected() {
		t.Fatal("connected to a server that should not be there")
	}
	cfg := converter.DefaultConfig()
	cfg.HTTPAddr = natstest.FreeAddr(t)
	cfg.ShutdownTimeout = 2 * time.Second
	svc, err := converter.New(cfg, converter.Deps{Log: natstest.Logger(t), NC: nc})
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

	ns := natstest.RunServer(t, natstest.WithPort(port))
	natstest.WantStatus(t, 20*time.Second, cfg.HTTPAddr, "/readyz", http.StatusOK)
	js := natstest.JetStream(t, natstest.Connect(t, ns))
	if _, err := js.Stream(t.Context(), events.RawStream); err != nil {
		t.Errorf("stream %s after NATS came up: %v", events.RawStream, err)
	}

	cancel()
	if err := waitRun(t, done, 15*time.Second); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	if _, err := natstest.Probe(cfg.HTTPAddr, "/healthz"); err == nil {
		t.Error("ops server still answering after Run returned")
	}
}

// TestRunStopsWhileNATSIsDown: cancelled before NATS was ever reached, Run
// returns nil at once instead of waiting for the streams.
func TestRunStopsWhileNATSIsDown(t *testing.T) {
	nc, err := natsconn.Connect(natsconn.Config{URL: "nats://" + natstest.FreeAddr(t)}, "converter-test", natstest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	cfg := converter.DefaultConfig()
	cfg.HTTPAddr = natstest.FreeAddr(t)
	cfg.ShutdownTimeout = time.Second
	svc, err := converter.New(cfg, converter.Deps{Log: natstest.Logger(t), NC: nc})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	natstest.WantStatus(t, 2*time.Second, cfg.HTTPAddr, "/healthz", http.StatusOK)
	cancel()
	if err := waitRun(t, done, 10*time.Second); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	if gs := consumeGoroutines(); len(gs) > 0 {
		t.Errorf("stage still running after Run returned:\n%s", strings.Join(gs, "\n\n"))
	}
}
