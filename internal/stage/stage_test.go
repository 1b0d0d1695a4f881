package stage_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/relaybus/relaybus/internal/stage"
	"github.com/relaybus/relaybus/internal/stage/stagetest"
	"github.com/relaybus/relaybus/pkg/natstest"
)

var discard = slog.New(slog.DiscardHandler)

// fake is a stage whose readiness the test sets.
type fake struct{ ready chan struct{} }

func (f fake) Run(ctx context.Context) error { <-ctx.Done(); return nil }
func (fake) Live(context.Context) error      { return nil }
func (f fake) Ready(context.Context) error {
	select {
	case <-f.ready:
		return nil
	default:
		return errors.New("fake not ready")
	}
}

// TestServeOpsFirst: the ops port answers while start is still building
// the process; /readyz says "starting", then follows the members' probes.
func TestServeOpsFirst(t *testing.T) {
	addr := natstest.FreeAddr(t)
	release, f := make(chan struct{}), fake{ready: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- stage.Serve(ctx, addr, discard, func(ctx context.Context, h *stage.Host) error {
			<-release
			h.Run("fake", f)
			return nil
		})
	}()
	waitStatus(t, "http://"+addr+"/healthz", http.StatusOK, "ok")
	waitStatus(t, "http://"+addr+"/readyz", http.StatusServiceUnavailable, "process: starting")
	close(release)
	waitStatus(t, "http://"+addr+"/readyz", http.StatusServiceUnavailable, "fake: fake not ready")
	close(f.ready)
	waitStatus(t, "http://"+addr+"/readyz", http.StatusOK, "ok")
	if code, body, err := natstest.Get("http://" + addr + "/metrics"); code != http.StatusOK || !strings.Contains(body, "process_resident_memory_bytes") {
		t.Errorf("/metrics = %d (%v), want the process collector's series", code, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve = %v after cancel, want nil", err)
	}
}

// TestServeOneReturnsAllStop: a member that returns stops the others;
// Serve returns its error after the cleanups ran, last registered first.
func TestServeOneReturnsAllStop(t *testing.T) {
	boom := errors.New("boom")
	var order []string
	err := stage.Serve(context.Background(), "", discard, func(ctx context.Context, h *stage.Host) error {
		h.Defer(func() { order = append(order, "first") })
		h.Defer(func() { order = append(order, "second") })
		h.Go(func(ctx context.Context) error { <-ctx.Done(); order = append(order, "stopped"); return nil })
		h.Go(func(context.Context) error { return boom })
		return nil
	})
	if !errors.Is(err, boom) {
		t.Errorf("Serve = %v, want boom", err)
	}
	if got := strings.Join(order, ","); got != "stopped,second,first" {
		t.Errorf("order = %s, want stopped,second,first", got)
	}
}

// TestServeStartFails: an error from start stops what it started.
func TestServeStartFails(t *testing.T) {
	boom := errors.New("boom")
	stopped := make(chan struct{})
	err := stage.Serve(context.Background(), natstest.FreeAddr(t), discard, func(ctx context.Context, h *stage.Host) error {
		h.Go(func(ctx context.Context) error { <-ctx.Done(); close(stopped); return nil })
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("Serve = %v, want boom", err)
	}
	select {
	case <-stopped:
	default:
		t.Error("the member was not stopped")
	}
}

// TestServeBindError: a taken port is an error at once; start never runs.
func TestServeBindError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = stage.Serve(context.Background(), ln.Addr().String(), discard, func(context.Context, *stage.Host) error {
		t.Error("start ran")
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Errorf("Serve = %v, want the bind error", err)
	}
}

type badConfig struct{}

func (badConfig) Validate() error { return errors.New("X_WORKERS=-1: want > 0") }

// TestRunChecksConfigFirst: a config that does not validate stops Run
// before it logs, binds or connects anything.
func TestRunChecksConfigFirst(t *testing.T) {
	var out strings.Builder
	err := stage.Run(context.Background(), func(string) string { return "" }, &out, stage.Spec{
		Name: "x", HTTPAddr: "127.0.0.1:0", Config: badConfig{},
		New: func(stage.Deps) (stage.Service, error) { t.Error("New called"); return nil, nil },
	})
	if err == nil || !strings.Contains(err.Error(), "X_WORKERS") || out.Len() != 0 {
		t.Errorf("Run = %v, logged %q; want the config error and no output", err, out.String())
	}
}

// TestRunWithoutNATS: the lifecycle itself (a stage that needs NATS to be
// ready) answers /healthz at once and /readyz with not ready.
func TestRunWithoutNATS(t *testing.T) {
	run := func(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
		return stage.Run(ctx, getenv, stdout, stage.Spec{Name: "x", HTTPAddr: getenv("X_HTTP_ADDR"),
			New: func(d stage.Deps) (stage.Service, error) { return natsStage{d}, nil }})
	}
	stagetest.StartsWithoutNATS(t, run, "X_HTTP_ADDR", nil)
}

// natsStage is ready once its connection is.
type natsStage struct{ stage.Deps }

func (s natsStage) Run(ctx context.Context) error { <-ctx.Done(); return nil }
func (natsStage) Live(context.Context) error      { return nil }
func (s natsStage) Ready(context.Context) error {
	if !s.NC.IsConnected() {
		return errors.New("nats not connected")
	}
	return nil
}

func waitStatus(t *testing.T, url string, code int, body string) {
	t.Helper()
	natstest.WaitFor(t, 5*time.Second, func() error {
		c, b, err := natstest.Get(url)
		if err == nil && (c != code || strings.TrimSpace(b) != body) {
			err = fmt.Errorf("%s = %d %q, want %d %q", url, c, b, code, body)
		}
		return err
	})
}
