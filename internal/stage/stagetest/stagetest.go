// Package stagetest runs a stage binary's run function (see package stage)
// in a test and checks it the way an orchestrator sees it.
package stagetest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relaybus/relaybus/pkg/natstest"
)

// Run is a stage binary's run function.
type Run func(ctx context.Context, getenv func(string) string, stdout io.Writer) error

// Proc is a run function running in the background.
type Proc struct {
	// Logs is what it wrote.
	Logs   *Buffer
	cancel context.CancelFunc
	done   chan error
}

// Start runs run with the environment env in the background; the test's
// cleanup stops it if the test did not.
func Start(t *testing.T, run Run, env map[string]string) *Proc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proc{Logs: &Buffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- run(ctx, func(k string) string { return env[k] }, p.Logs) }()
	t.Cleanup(func() { cancel() })
	return p
}

// Stop cancels run's context and returns what run returned, failing the
// test when it has not returned within 20 s.
func (p *Proc) Stop(t *testing.T) error {
	t.Helper()
	p.cancel()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return within 20s of cancel")
		return nil
	}
}

// StartsWithoutNATS runs run with env plus NATS_URL pointing at a closed
// port and httpVar (the binary's ops address variable) at a free one, and
// checks what a container healthcheck sees: /healthz answers 200 at once,
// /readyz answers 503 naming NATS; then, canceled, run returns.
func StartsWithoutNATS(t *testing.T, run Run, httpVar string, env map[string]string) {
	t.Helper()
	addr := natstest.FreeAddr(t)
	all := map[string]string{"NATS_URL": "nats://" + natstest.FreeAddr(t), httpVar: addr}
	for k, v := range env {
		all[k] = v
	}
	started := time.Now()
	p := Start(t, run, all)

	code, body := p.get(t, "http://"+addr+"/healthz", 2*time.Second)
	if code != http.StatusOK {
		t.Errorf("/healthz = %d %q, want 200 while NATS is unreachable", code, body)
	}
	t.Logf("/healthz answered %v after start", time.Since(started).Round(time.Millisecond))
	// Not ready: first "starting" (while the stage is being built), then
	// for want of NATS.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		code, body = p.get(t, "http://"+addr+"/readyz", time.Second)
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

	// Stopped before NATS was ever there, run returns promptly and cleanly
	// (an orderly stop: the binary exits 0 on SIGTERM).
	if err := p.Stop(t); err != nil {
		t.Errorf("run = %v after cancel, want nil", err)
	}
}

// get polls url until it answers (or within the deadline fails the test,
// also when run returned first).
func (p *Proc) get(t *testing.T, url string, within time.Duration) (int, string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		code, body, err := natstest.Get(url)
		if err == nil {
			return code, body
		}
		select {
		case rerr := <-p.done:
			t.Fatalf("run returned %v before %s answered", rerr, url)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within %v: %v", url, within, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Buffer is a bytes.Buffer the logger and the test may use at once.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
