// Package stage is the one lifecycle of every relaybus process: the three
// stage binaries (ws-edge, passthrough-converter, egress) run through
// [Main] and [Run], the all-in-one stack through [Serve].
//
// The order is the same everywhere: configuration and logging first (a bad
// value stops the process before it binds anything), then the ops port,
// bound and served at once — /healthz answers while NATS is still
// unreachable, /readyz says not ready until NATS is connected, the streams
// exist and every stage is ready —, then the NATS connection and the
// stages. Everything runs in one group: when any member returns, the
// others are stopped too; each stage drains its own connection on the way
// out, and Serve returns only after every member has returned and the
// cleanups have run.
package stage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/relaybus/relaybus/internal/logging"
	"github.com/relaybus/relaybus/internal/natsconn"
	"github.com/relaybus/relaybus/internal/ops"
	"github.com/relaybus/relaybus/pkg/jswatch"
)

// Version is the version (SemVer) of every relaybus binary, in its logs,
// its NATS micro registrations and `relay version`. It is set in this one
// place at build time:
//
//	go build -ldflags "-X github.com/relaybus/relaybus/internal/stage.Version=1.2.3"
var Version = "0.1.0"

// Service is what each stage package's Service offers: Run until the
// context is done (draining its NATS connection on the way out), and the
// liveness and readiness probes.
type Service interface {
	Run(ctx context.Context) error
	Live(ctx context.Context) error
	Ready(ctx context.Context) error
}

// Spec is one stage binary.
type Spec struct {
	// Name is the stage's name in logs ("service") and its NATS
	// connection's name.
	Name string
	// HTTPAddr is the ops port the binary serves.
	HTTPAddr string
	// Pprof serves /debug/pprof on it (the binary's *_PPROF=1).
	Pprof bool
	// Config is the stage's configuration, checked (when it has a Validate
	// method) before anything starts, and logged at startup.
	Config any
	// New builds the stage; the stage must serve no ops port of its own
	// (the binary's is served by the lifecycle).
	New func(Deps) (Service, error)
}

// Main runs a stage binary's run function with the process's environment
// and standard output until SIGINT or SIGTERM, and exits non-zero with the
// error on a failure.
//
// Run as `BIN healthcheck`, the binary instead probes the /healthz of the
// one already running beside it (the container's HEALTHCHECK): it reads the
// same configuration, so it finds the same ops port, and exits 0 when that
// answers 200, 1 otherwise.
func Main(run func(ctx context.Context, getenv func(string) string, stdout io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		ctx = HealthcheckContext(ctx)
	}
	err := run(ctx, os.Getenv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// Run runs one stage binary: logging from LOG_LEVEL and LOG_FORMAT, the
// startup line, the ops port on spec.HTTPAddr, the NATS connection from
// NATS_URL, NATS_CREDS, NATS_NKEY, NATS_TLS_CA, NATS_TLS_CERT and
// NATS_TLS_KEY (retried in the background while the
// server is unreachable), then the stage, until ctx is done. It returns nil
// after a clean shutdown. Under a [HealthcheckContext] it only probes the
// /healthz of spec.HTTPAddr (see [Probe]) and returns.
func Run(ctx context.Context, getenv func(string) string, stdout io.Writer, spec Spec) error {
	if v, ok := spec.Config.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return err
		}
	}
	if ctx.Value(healthcheckKey{}) != nil {
		url, err := LocalURL(spec.HTTPAddr, "/healthz")
		if err != nil {
			return err
		}
		return Probe(ctx, url)
	}
	lcfg, err := logging.FromEnv(getenv)
	if err != nil {
		return err
	}
	log := lcfg.New(stdout).With("service", spec.Name, "version", Version)
	ncfg := natsconn.FromEnv(getenv)
	if err := ncfg.Validate(); err != nil {
		return err
	}
	log.Info("startup", "nats", ncfg, "logging", lcfg, "http_addr", spec.HTTPAddr, "config", spec.Config)
	return Serve(ctx, spec.HTTPAddr, log, func(_ context.Context, h *Host) error {
		if spec.Pprof {
			h.Ops().EnablePprof()
		}
		nc, err := natsconn.Connect(ncfg, spec.Name, log)
		if err != nil {
			return err
		}
		h.Defer(nc.Close)
		// A server cut off from its cluster's JetStream still answers
		// pings: move to another of NATS_URL's servers rather than stall.
		h.Go(func(ctx context.Context) error {
			jswatch.Run(ctx, nc, jswatch.Options{
				Moving: func(server string, err error) {
					log.Warn("nats server keeps answering that JetStream is unavailable; reconnecting to another server",
						"server", server, "for", jswatch.DefaultAfter*jswatch.DefaultEvery, "err", err)
				},
				OnError: func(err error) { log.Warn("nats JetStream watch", "err", err) },
			})
			return nil
		})
		svc, err := spec.New(Deps{Log: log, NC: nc, Registerer: h.Registry()})
		if err != nil {
			return err
		}
		h.Run(spec.Name, svc)
		return nil
	})
}

// Host is a running process as [Serve] hands it to its start function: an
// ops server with its metrics registry, and a group of members.
type Host struct {
	log      *slog.Logger
	reg      *prometheus.Registry
	ops      *ops.Server
	ctx      context.Context
	stop     context.CancelFunc
	g        *errgroup.Group
	ln       net.Listener
	starting atomic.Bool

	mu     sync.Mutex
	defers []func()
}

// errStarting is /readyz's answer until the start function has returned.
var errStarting = errors.New("starting")

// Serve runs a process under an ops port. It binds addr ("" serves no
// port; a bind error is returned at once) and serves /healthz, /readyz,
// /metrics (the Go runtime and process collectors plus whatever the members
// register in [Host.Registry]) and /debug/pprof. /readyz says "starting"
// until start has returned. start builds the process — connects, creates
// the stages — and hands its members to the host with [Host.Run] and
// [Host.Go]; it runs while the port is already served.
//
// Everything runs until ctx is done, start fails, or any member returns;
// then every member is stopped, Serve waits for them all, runs the
// cleanups registered with [Host.Defer] (last first) and returns the first
// error, or nil after a clean shutdown.
func Serve(ctx context.Context, addr string, log *slog.Logger, start func(ctx context.Context, h *Host) error) error {
	var ln net.Listener
	if addr != "" {
		var err error
		if ln, err = ops.Listen(addr); err != nil {
			return err
		}
	}
	reg := ops.NewRegistry()
	h := &Host{log: log, reg: reg, ops: ops.New(reg), ln: ln}
	h.starting.Store(true)
	h.ops.AddReadiness(ops.Check{Name: "process", Fn: func(context.Context) error {
		if h.starting.Load() {
			return errStarting
		}
		return nil
	}})
	h.ctx, h.stop = context.WithCancel(ctx)
	defer h.stop()
	h.g, h.ctx = errgroup.WithContext(h.ctx)
	if ln != nil {
		h.Go(func(ctx context.Context) error { return ops.Serve(ctx, ln, h.ops.Handler(), log) })
	}
	h.g.Go(func() error {
		if err := start(h.ctx, h); err != nil {
			h.stop()
			return err
		}
		h.starting.Store(false)
		return nil
	})
	err := h.g.Wait()
	h.mu.Lock()
	defers := h.defers
	h.defers = nil
	h.mu.Unlock()
	for i := len(defers) - 1; i >= 0; i-- {
		defers[i]()
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Run runs svc as a member named name, with its probes on /healthz and
// /readyz.
func (h *Host) Run(name string, svc Service) {
	h.ops.AddLiveness(ops.Check{Name: name, Fn: svc.Live})
	h.ops.AddReadiness(ops.Check{Name: name, Fn: svc.Ready})
	h.Go(func(ctx context.Context) (err error) {
		// Every goroutine of the stage inherits the label: CPU profiles
		// (relay bench's breakdown, /debug/pprof) tell the stages apart.
		pprof.Do(ctx, pprof.Labels(ProfileLabel, name), func(ctx context.Context) { err = svc.Run(ctx) })
		return err
	})
}

// ProfileLabel is the pprof label that names the stage (Run's name) a
// goroutine works for.
const ProfileLabel = "component"

// Go runs fn as a member: when it returns, with or without an error, every
// other member is stopped.
func (h *Host) Go(fn func(ctx context.Context) error) {
	h.g.Go(func() error {
		defer h.stop()
		return fn(h.ctx)
	})
}

// Defer registers fn to run once every member has returned (the last
// registered first): closing connections, shutting down a server.
func (h *Host) Defer(fn func()) {
	h.mu.Lock()
	h.defers = append(h.defers, fn)
	h.mu.Unlock()
}

// Registry is the process's metrics registry.
func (h *Host) Registry() *prometheus.Registry { return h.reg }

// Ops is the process's ops server, for probes of its own.
func (h *Host) Ops() *ops.Server { return h.ops }

// Addr is the address the ops port is bound to ("" without one).
func (h *Host) Addr() string {
	if h.ln == nil {
		return ""
	}
	return h.ln.Addr().String()
}

// Log is the process's logger.
func (h *Host) Log() *slog.Logger { return h.log }

// Ready reports whether the process is ready: start has returned and every
// probe on /readyz passes.
func (h *Host) Ready(ctx context.Context) error { return h.ops.Ready(ctx) }
