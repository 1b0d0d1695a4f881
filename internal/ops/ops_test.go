package ops_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/relaybus/relaybus/internal/ops"
)

// TestPprofOffUnlessEnabled: /debug/pprof answers 404 until EnablePprof,
// while the probes and metrics are always served.
func TestPprofOffUnlessEnabled(t *testing.T) {
	srv := ops.New(ops.NewRegistry())
	ln, err := ops.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ops.Serve(ctx, ln, srv.Handler(), slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v", err)
		}
	})
	get := func(path string) int {
		t.Helper()
		c := http.Client{Timeout: 5 * time.Second}
		resp, err := c.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/symbol"} {
		if code := get(path); code != http.StatusNotFound {
			t.Errorf("GET %s = %d before EnablePprof, want 404", path, code)
		}
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if code := get(path); code != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, code)
		}
	}
	srv.EnablePprof()
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline"} {
		if code := get(path); code != http.StatusOK {
			t.Errorf("GET %s = %d after EnablePprof, want 200", path, code)
		}
	}
}
