package relaytest

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/relaybus/relaybus/internal/ops"
	"github.com/relaybus/relaybus/internal/stage/stagetest"
	"github.com/relaybus/relaybus/pkg/natstest"
)

// Binaries are the paths of the stage binaries built by [Build].
type Binaries struct {
	WSEdge    string
	Converter string
	Egress    string
}

// Build compiles the three stage binaries into dir with one go build (with
// -race when the test binary has it, see [Race]). It is meant for TestMain,
// which has no testing.TB; the error carries the compiler's output.
func Build(dir string) (Binaries, error) {
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	if Race {
		args = append(args, "-race")
	}
	args = append(args,
		"github.com/relaybus/relaybus/services/ws-edge",
		"github.com/relaybus/relaybus/services/passthrough-converter",
		"github.com/relaybus/relaybus/services/egress",
	)
	cmd := exec.Command("go", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return Binaries{}, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return Binaries{
		WSEdge:    filepath.Join(dir, "ws-edge"),
		Converter: filepath.Join(dir, "passthrough-converter"),
		Egress:    filepath.Join(dir, "egress"),
	}, nil
}

// Proc is a stage binary running as a child process. Its methods are safe
// for use from the test goroutine; Output may be called from any goroutine.
type Proc struct {
	// Name labels the process in logs.
	Name string
	// HTTPAddr is the process's ops listener (host:port).
	HTTPAddr string

	cmd  *exec.Cmd
	out  *stagetest.Buffer
	done chan struct{}
	err  error // cmd.Wait's result, valid once done is closed
}

// envPrefixes are the variables a stage reads; the test process's own values
// never leak into a child.
var envPrefixes = []string{"NATS_", "RELAY_", "GATEWAY_", "WSEDGE_", "CONVERTER_", "EGRESS_", "LOG_"}

// StartProc starts bin with the given environment on top of a cleaned copy
// of the test's. The process's output is kept and logged when the test
// fails. At cleanup a still running process gets SIGTERM (then SIGKILL
// after 10 s), and any data race the child reported fails the test.
func StartProc(tb testing.TB, name, bin, httpAddr string, env map[string]string) *Proc {
	tb.Helper()
	p := &Proc{Name: name, HTTPAddr: httpAddr, out: &stagetest.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin)
	for _, kv := range os.Environ() {
		keep := true
		for _, pre := range envPrefixes {
			if strings.HasPrefix(kv, pre) {
				keep = false
				break
			}
		}
		if keep {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("relaytest: starting %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	tb.Cleanup(func() {
		if !p.Exited() {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				tb.Errorf("%s did not stop within 10s of SIGTERM; killing it", name)
				_ = p.cmd.Process.Kill()
				<-p.done
			}
		}
		out := p.Output()
		if strings.Contains(out, "WARNING: DATA RACE") {
			tb.Errorf("%s reported a data race:\n%s", name, out)
		} else if tb.Failed() {
			tb.Logf("%s output:\n%s", name, tail(out, 16<<10))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// Output returns what the process wrote so far (stdout and stderr).
func (p *Proc) Output() string { return p.out.String() }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Kill9 kills the process with SIGKILL, as a crash or an OOM kill would,
// and waits until it is gone.
func (p *Proc) Kill9(tb testing.TB) {
	tb.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		tb.Fatalf("relaytest: kill -9 %s: %v", p.Name, err)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		tb.Fatalf("relaytest: %s still running 10s after SIGKILL", p.Name)
	}
}

// Term stops the process with SIGTERM, as an orchestrator scaling it down
// would, and waits up to timeout until it has exited; the test fails when
// it has not.
func (p *Proc) Term(tb testing.TB, timeout time.Duration) {
	tb.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		tb.Fatalf("relaytest: SIGTERM %s: %v", p.Name, err)
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
		tb.Fatalf("relaytest: %s still running %v after SIGTERM", p.Name, timeout)
	}
}

// WaitReady polls the process's /readyz until it answers 200, failing the
// test after timeout or when the process exits first.
func (p *Proc) WaitReady(tb testing.TB, timeout time.Duration) {
	tb.Helper()
	natstest.WaitFor(tb, timeout, func() error {
		if p.Exited() {
			return fmt.Errorf("%s exited (%v):\n%s", p.Name, p.err, tail(p.Output(), 4096))
		}
		return p.probe("/readyz")
	})
}

// Live reports whether the process's /healthz answers 200.
func (p *Proc) Live() error { return p.probe("/healthz") }

// probe returns nil when the process's ops path answers 200, else what it
// answered.
func (p *Proc) probe(path string) error {
	code, body, err := natstest.Get("http://" + p.HTTPAddr + path)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("%s %s = %d: %s", p.Name, path, code, body)
	}
	return nil
}

// Metric returns the sum of the process's metric name over the series whose
// labels include every given label (k1, v1, k2, v2, ...), from its
// /metrics parsed with Prometheus's own parser (see [ops.Metrics.Sum]).
func (p *Proc) Metric(tb testing.TB, name string, labels ...string) float64 {
	tb.Helper()
	m, err := ops.Scrape("http://" + p.HTTPAddr + "/metrics")
	if err != nil {
		tb.Fatalf("relaytest: %s /metrics: %v", p.Name, err)
	}
	return m.Sum(name, labels...)
}
