// Package ops is the operations HTTP surface every relaybus service mounts on
// its own port (never http.DefaultServeMux): /healthz (liveness), /readyz
// (readiness: NATS connected, streams present, stage-specific checks),
// /metrics (Prometheus) and /debug/pprof.
package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is a named probe; nil means OK.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Server holds the probes and metrics of one process.
type Server struct {
	mu        sync.RWMutex
	liveness  []Check
	readiness []Check
	gatherers prometheus.Gatherers
	// pprof serves /debug/pprof when set (off by default: profiles and the
	// command line are no one else's business on a shared network).
	pprof atomic.Bool
}

// EnablePprof serves /debug/pprof from now on (the *_PPROF=1 setting).
func (s *Server) EnablePprof() { s.pprof.Store(true) }

// New returns an ops server exposing the given gatherers on /metrics.
func New(gatherers ...prometheus.Gatherer) *Server {
	return &Server{gatherers: gatherers}
}

// NewRegistry returns a registry with the Go runtime and process collectors,
// for a process's own metrics.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// AddLiveness adds a /healthz probe (a failing one means "restart me").
func (s *Server) AddLiveness(c ...Check) {
	s.mu.Lock()
	s.liveness = append(s.liveness, c...)
	s.mu.Unlock()
}

// AddReadiness adds a /readyz probe (a failing one means "send no work").
func (s *Server) AddReadiness(c ...Check) {
	s.mu.Lock()
	s.readiness = append(s.readiness, c...)
	s.mu.Unlock()
}

// Ready runs the readiness probes and returns the first failure.
func (s *Server) Ready(ctx context.Context) error {
	s.mu.RLock()
	checks := append([]Check(nil), s.readiness...)
	s.mu.RUnlock()
	return run(ctx, checks)
}

func run(ctx context.Context, checks []Check) error {
	var errs []error
	for _, c := range checks {
		if err := c.Fn(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Handler returns the ops mux.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	probe := func(get func() []Check) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			s.mu.RLock()
			checks := append([]Check(nil), get()...)
			s.mu.RUnlock()
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if err := run(ctx, checks); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				lines := strings.Split(err.Error(), "\n")
				sort.Strings(lines)
				fmt.Fprintln(w, strings.Join(lines, "\n"))
				return
			}
			fmt.Fprintln(w, "ok")
		}
	}
	mux.Handle("GET /healthz", probe(func() []Check { return s.liveness }))
	mux.Handle("GET /readyz", probe(func() []Check { return s.readiness }))
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.gatherers, promhttp.HandlerOpts{}))
	prof := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if !s.pprof.Load() {
				http.Error(w, "pprof is off (set the binary's *_PPROF=1)", http.StatusNotFound)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("/debug/pprof/", prof(pprof.Index))
	mux.HandleFunc("/debug/pprof/cmdline", prof(pprof.Cmdline))
	mux.HandleFunc("/debug/pprof/profile", prof(pprof.Profile))
	mux.HandleFunc("/debug/pprof/symbol", prof(pprof.Symbol))
	mux.HandleFunc("/debug/pprof/trace", prof(pprof.Trace))
	return mux
}

// Listen binds addr so that bind errors surface at start, before Serve.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ops: listening on %s: %w", addr, err)
	}
	return ln, nil
}

// Serve serves h on ln until ctx is done, then shuts down gracefully
// (bounded by 5 s). It returns nil after a clean shutdown.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		// Long enough for a 30 s CPU profile or trace (pprof refuses one
		// longer than the write timeout).
		WriteTimeout: 2 * time.Minute,
		IdleTimeout:  time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("ops http listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("ops http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("ops http: %w", err)
	}
	return nil
}
