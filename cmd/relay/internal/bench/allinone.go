package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/natsauth"
	"github.com/relaybus/relaybus/internal/natsconn"
	"github.com/relaybus/relaybus/internal/ops"
)

// errNoChild is returned when --allinone is used without --soak.
var errNoChild = errors.New("bench: --allinone measures a soak: set --soak")

// benchAllInOne soaks the all-in-one binary itself: this executable is
// started as a child process ("relay", its embedded NATS on a loopback
// port, the stages, the default soft memory limit), pointed at a dev
// connector in this process, and fed Discord interactions at c.SoakRate
// for c.Soak while an agent here consumes them over TCP. Samples are the
// child's own figures from its /metrics (process_resident_memory_bytes,
// goroutines, heap), so the connector and agent are not counted: this is
// the figure the architecture's memory target speaks of.
func benchAllInOne(ctx context.Context, c benchConfig, progress func(string, ...any)) (*benchReport, error) {
	rep := &benchReport{Storage: "file"}
	r, err := newRig("relay-bench-allinone-", max(4*c.SoakRate*int(c.Soak.Seconds()), 200_000))
	if err != nil {
		return nil, err
	}
	defer r.close()
	bodies, dir, dev := r.bodies, r.dir, r.dev
	log := slog.New(slog.DiscardHandler)

	natsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(childEnv(os.Environ()),
		"RELAY_DATA_DIR="+dir,
		"RELAY_NATS_LISTEN="+natsAddr,
		"RELAY_HTTP_ADDR="+httpAddr,
		"GATEWAY_RELAY_URL="+dev.URL(),
		"GATEWAY_RELAY_PLATFORMS=discord",
		"RELAY_DUPLICATE_WINDOW="+c.DupWindow.String(),
		"LOG_LEVEL=warn",
	)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the all-in-one: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	progress("all-in-one started (pid %d, NATS %s, ops %s)", cmd.Process.Pid, natsAddr, httpAddr)
	metricsURL := "http://" + httpAddr + "/metrics"
	if err := waitFor(ctx, 60*time.Second, func() bool {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK && dev.Connected()
	}); err != nil {
		return nil, fmt.Errorf("the all-in-one did not become ready: %w", err)
	}

	// The driver is trusted like the stages: it connects with the stage
	// identity the child generated (ignored when RELAY_NATS_AUTH=0).
	opts := natsconn.Options("bench-agent", log)
	if seed := natsauth.SeedFile(natsauth.Dir(dir), natsauth.Stage); fileExists(seed) {
		opts = append(opts, natsconn.NKeyOption(seed))
	}
	nc, err := nats.Connect("nats://"+natsAddr, opts...)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	agent, err := newBenchAgent(ctx, js)
	if err != nil {
		return nil, err
	}
	defer agent.stop()

	var seq atomic.Uint64
	emit := bodies.emitter(dev)
	pid := cmd.Process.Pid
	sample := func() soakSample {
		m, _ := ops.Scrape(metricsURL) // a failed scrape is a sample of zeros
		return sampleOf(m)
	}
	progress("soak of the all-in-one at %d/s for %v", c.SoakRate, c.Soak)
	rep.Soak, rep.SoakVerdict = soak(ctx, c.SoakRate, c.Soak, &seq, agent, emit, sample)
	rep.SoakProcess = "all-in-one child process"
	if err := waitFor(ctx, 2*time.Minute, func() bool { return agent.count.Load() >= int64(seq.Load()) }); err != nil {
		return nil, fmt.Errorf("after the soak: %d of %d events delivered: %w", agent.count.Load(), seq.Load(), err)
	}
	rep.Lost, rep.DuplicatedEvents = agent.check(seq.Load())
	rep.Machine.CPUs, rep.Machine.GoVersion = runtime.NumCPU(), runtime.Version()
	// The peak from /proc where there is one, else the highest sample.
	rep.PeakRSSBytes = peakRSS(pid)
	for _, s := range rep.Soak {
		rep.PeakRSSBytes = max(rep.PeakRSSBytes, s.RSSBytes)
	}
	select {
	case err := <-exited:
		exited <- err
		return nil, fmt.Errorf("the all-in-one exited during the soak: %v", err)
	default:
	}
	return rep, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// childEnv drops from env what benchAllInOne sets for the child (its
// addresses, store, connector and log level) and passes the rest through,
// so that tuning variables (RELAY_INBOUND_MAX_BYTES, CONVERTER_WORKERS,
// GOMEMLIMIT, GOGC ...) reach it.
func childEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "GATEWAY_"), strings.HasPrefix(k, "RELAY_DEV"),
			k == "RELAY_DATA_DIR", k == "RELAY_NATS_LISTEN", k == "RELAY_HTTP_ADDR", k == "RELAY_DUPLICATE_WINDOW", k == "LOG_LEVEL":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
