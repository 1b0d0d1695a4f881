package stage_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/relaybus/relaybus/internal/stage"
	"github.com/relaybus/relaybus/pkg/natstest"
)

func TestLocalURL(t *testing.T) {
	for addr, want := range map[string]string{
		":8081":          "http://127.0.0.1:8081/healthz",
		"0.0.0.0:8082":   "http://127.0.0.1:8082/healthz",
		"[::]:8083":      "http://127.0.0.1:8083/healthz",
		"127.0.0.1:8084": "http://127.0.0.1:8084/healthz",
		"[::1]:8085":     "http://[::1]:8085/healthz",
		"":               "",
		"127.0.0.1:0":    "",
		"nonsense":       "",
	} {
		got, err := stage.LocalURL(addr, "/healthz")
		if got != want || (want == "") != (err != nil) {
			t.Errorf("LocalURL(%q) = %q, %v; want %q", addr, got, err, want)
		}
	}
}

// TestHealthcheck: under HealthcheckContext, Run probes the /healthz of
// the ops port its spec names (as `BIN healthcheck` does beside the running
// binary) and neither logs, binds nor starts the stage.
func TestHealthcheck(t *testing.T) {
	addr := natstest.FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	spec := stage.Spec{Name: "x", HTTPAddr: ":" + port,
		New: func(stage.Deps) (stage.Service, error) { t.Error("New called"); return nil, nil }}
	check := func() error {
		var out strings.Builder
		err := stage.Run(stage.HealthcheckContext(context.Background()), func(string) string { return "" }, &out, spec)
		if out.Len() != 0 {
			t.Errorf("healthcheck logged %q", out.String())
		}
		return err
	}
	if err := check(); err == nil || !strings.Contains(err.Error(), "127.0.0.1:"+port) {
		t.Errorf("healthcheck with nothing running = %v, want an error naming the port", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- stage.Serve(ctx, addr, discard, func(ctx context.Context, h *stage.Host) error {
			h.Run("fake", fake{ready: make(chan struct{})}) // live, never ready: healthz only
			return nil
		})
	}()
	waitStatus(t, "http://"+addr+"/healthz", 200, "ok")
	if err := check(); err != nil {
		t.Errorf("healthcheck of a live process = %v, want nil", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
