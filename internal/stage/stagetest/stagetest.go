// Package stagetest runs a stage binary's run function (see package stage)
// in a test and checks it the way an orchestrator sees it.
package stagetest

import (
	"bytes"
	"context"
	"io"
	"maps"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

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
	// (an orderly stop: the binary exits 0 on SIGTERM), its ops port closed.
	if err := p.Stop(t); err != nil {
		t.Errorf("run = %v after cancel, want nil", err)
	}
	if _, err := natstest.Probe(addr, "/healthz"); err == nil {
		t.Error("the ops port still answers after run returned")
	}
}

// PortTaken runs run with env plus NATS_URL pointing at ns and httpVar at
// a port already bound, and checks that the ops port comes first: run
// returns the bind error at once, and no connection ever reached ns.
func PortTaken(t *testing.T, run Run, httpVar string, ns *server.Server, env map[string]string) {
	t.Helper()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	all := map[string]string{"NATS_URL": ns.ClientURL(), httpVar: addr}
	maps.Copy(all, env)
	before := connections(t, ns)
	p := Start(t, run, all)
	select {
	case err := <-p.done:
		p.done <- err
		if err == nil || !strings.Contains(err.Error(), addr) {
			t.Errorf("run = %v, want the bind error for %s", err, addr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return within 10s with its ops port taken")
	}
	if n := connections(t, ns) - before; n != 0 {
		t.Errorf("%d connection(s) reached NATS with the ops port taken, want none", n)
	}
}

// connections is how many client connections ns has ever accepted.
func connections(t *testing.T, ns *server.Server) uint64 {
	t.Helper()
	v, err := ns.Varz(nil)
	if err != nil {
		t.Fatal(err)
	}
	return v.TotalConnections
}

// Goroutines returns the stacks of the running goroutines that mention any
// of names (a function, "converter.(*Service).Run", or a package path).
func Goroutines(names ...string) []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		for _, name := range names {
			if strings.Contains(g, name) {
				out = append(out, g)
				break
			}
		}
	}
	return out
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

// Buffer is a bytes.Buffer the logger and the test may use at once: a log
// sink that concurrent workers, connection callbacks or a child process
// write while the test reads it. The zero value is ready to use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Bytes returns a copy of what was written so far.
func (b *Buffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.b.Bytes())
}
