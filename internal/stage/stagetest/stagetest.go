// Package stagetest checks a stage binary's run function (see package
// stage) the way an orchestrator sees it.
package stagetest

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/relaybus/relaybus/internal/natstest"
)

// Run is a stage binary's run function.
type Run func(ctx context.Context, getenv func(string) string, stdout io.Writer) error

// StartsWithoutNATS runs run with env plus NATS_URL pointing at a closed
// port and httpVar (the binary's ops address variable) at a free one, and
// checks what a container healthcheck sees: /healthz answers 200 at once,
// /readyz answers 503 naming NATS; then, canceled, run returns.
func StartsWithoutNATS(t *testing.T, run Run, httpVar string, env map[string]string) {
	t.Helper()
	addr := natstest.FreeAddr(t)
	getenv := func(k string) string {
		switch k {
		case "NATS_URL":
			return "nats://" + natstest.FreeAddr(t)
		case httpVar:
			return addr
		}
		return env[k]
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	started := time.Now()
	go func() { done <- run(ctx, getenv, io.Discard) }()

	code, body := get(t, "http://"+addr+"/healthz", 2*time.Second, done)
	if code != http.StatusOK {
		t.Errorf("/healthz = %d %q, want 200 while NATS is unreachable", code, body)
	}
	t.Logf("/healthz answered %v after start", time.Since(started).Round(time.Millisecond))
	// Not ready: first "starting" (while the stage is being built), then
	// for want of NATS.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		code, body = get(t, "http://"+addr+"/readyz", time.Second, done)
		if code != http.StatusServiceUnavailable {
			t.Fatalf("/readyz = %d %q, want 503 while NATS is unreachable", code, body)
		}
		if !strings.Contains(body, "starting") || time.Now().After(deadline) {
			break
		}
	}
	if !strings.Contains(strings.ToLower(body), "nats") {
		t.Errorf("/readyz = %d %q, want 503 naming NATS", code, body)
	}

	// Stopped before NATS was ever there, run returns promptly. (What it
	// returns is the stage's: a drain that found no server may be
	// reported.)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Logf("run = %v after cancel", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return within 20s of cancel")
	}
}

// get polls url until it answers (or within the deadline fails the test,
// also when run returned first).
func get(t *testing.T, url string, within time.Duration, done <-chan error) (int, string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		code, body, err := Get(url)
		if err == nil {
			return code, body
		}
		select {
		case rerr := <-done:
			t.Fatalf("run returned %v before %s answered", rerr, url)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within %v: %v", url, within, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var client = &http.Client{Timeout: time.Second}

// Get returns the status and body of GET url.
func Get(url string) (int, string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
