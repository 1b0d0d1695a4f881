package wsedge_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/relaybus/relaybus/internal/ops"
	"github.com/relaybus/relaybus/internal/redact"
	"github.com/relaybus/relaybus/internal/stage"
	"github.com/relaybus/relaybus/internal/stage/stagetest"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/pkg/wire"
	"github.com/relaybus/relaybus/services/ws-edge/wsedge"
)

// harness is one ws-edge under test: an embedded JetStream server, a
// scriptable connector, and the service running in the background.
type harness struct {
	tb     testing.TB
	ns     *server.Server
	nc     *nats.Conn // the test's own connection
	js     jetstream.JetStream
	conn   *connector
	reg    *prometheus.Registry
	svc    *wsedge.Service
	cancel context.CancelFunc
	runErr chan error
}

// testConfig is DefaultConfig with timings short enough for tests.
func testConfig(url string) wsedge.Config {
	cfg := wsedge.DefaultConfig()
	cfg.RelayURL = url
	cfg.BackoffMin = 10 * time.Millisecond
	cfg.BackoffMax = 50 * time.Millisecond
	cfg.PublishTimeout = 2 * time.Second
	cfg.OutboundTimeout = 10 * time.Second
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.InstanceID = "edge-test"
	return cfg
}

// start runs ws-edge against a fresh server and connector; mutate adjusts
// the config. Cleanup cancels Run and waits for it.
func start(tb testing.TB, mutate func(*wsedge.Config)) *harness {
	tb.Helper()
	h, cfg := newHarness(tb, natstest.RunServer(tb), mutate)
	h.serve(cfg, wsedge.Deps{})
	return h
}

// replica runs one more ws-edge, with its own connector, registry and
// clock now (nil: the wall clock), against the server ns (a second
// replica, or a restarted one). Its connector's idle timeout is 100 ms.
func replica(tb testing.TB, ns *server.Server, now func() time.Time, mutate func(*wsedge.Config)) *harness {
	tb.Helper()
	h, cfg := newHarness(tb, ns, func(c *wsedge.Config) {
		c.IdleTimeout = 100 * time.Millisecond
		if mutate != nil {
			mutate(c)
		}
	})
	h.serve(cfg, wsedge.Deps{Now: now})
	return h
}

// startLogged is start with the service's log kept (and teed to the test
// log when it fails) so that a test can search it.
func startLogged(tb testing.TB, mutate func(*wsedge.Config)) (*harness, *stagetest.Buffer) {
	tb.Helper()
	return startServerOpts(tb, nil, mutate)
}

// startServerOpts is startLogged against a server started with opts.
func startServerOpts(tb testing.TB, opts []natstest.Option, mutate func(*wsedge.Config)) (*harness, *stagetest.Buffer) {
	tb.Helper()
	h, cfg := newHarness(tb, natstest.RunServer(tb, opts...), mutate)
	logs := &stagetest.Buffer{}
	h.serve(cfg, wsedge.Deps{Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("ws-edge log:\n%s", redact.Clip(logs.String(), 16<<10))
		}
	})
	return h, logs
}

// startHosted is start with ws-edge hosted as its binary hosts it: by the
// lifecycle (stage.Serve), which serves its probes and the metrics it
// registers on an ops port at addr. Run's error is Serve's.
func startHosted(tb testing.TB, addr string, mutate func(*wsedge.Config)) *harness {
	tb.Helper()
	h, cfg := newHarness(tb, natstest.RunServer(tb), mutate)
	svcNC := natstest.Connect(tb, h.ns, nats.Name("ws-edge"))
	built := make(chan error, 1)
	h.run(func(ctx context.Context) error {
		return stage.Serve(ctx, addr, natstest.Logger(tb), func(_ context.Context, host *stage.Host) error {
			svc, err := wsedge.New(cfg, wsedge.Deps{Log: natstest.Logger(tb), NC: svcNC, Registerer: host.Registry()})
			if err == nil {
				h.svc, h.reg = svc, host.Registry()
				host.Run("ws-edge", svc)
			}
			built <- err
			return err
		})
	})
	select {
	case err := <-built:
		if err != nil {
			tb.Fatalf("New: %v", err)
		}
	case err := <-h.runErr:
		h.runErr <- err
		tb.Fatalf("Serve = %v before ws-edge was built", err)
	}
	return h
}

// newHarness starts a connector for a ws-edge on the server ns and returns
// the config, adjusted by mutate.
func newHarness(tb testing.TB, ns *server.Server, mutate func(*wsedge.Config)) (*harness, wsedge.Config) {
	tb.Helper()
	h := &harness{tb: tb, ns: ns, conn: newConnector(tb), reg: prometheus.NewRegistry()}
	h.nc = natstest.Connect(tb, h.ns)
	h.js = natstest.JetStream(tb, h.nc)
	cfg := testConfig(h.conn.URL())
	if mutate != nil {
		mutate(&cfg)
	}
	return h, cfg
}

// serve builds ws-edge from cfg and deps, on a connection of its own with
// h.reg as its registry and (unless deps has a logger) the test's output
// as its log, and runs it until Cleanup or stop.
func (h *harness) serve(cfg wsedge.Config, deps wsedge.Deps) {
	h.tb.Helper()
	if deps.Log == nil {
		deps.Log = natstest.Logger(h.tb)
	}
	deps.NC = natstest.Connect(h.tb, h.ns, nats.Name("ws-edge"))
	deps.Registerer = h.reg
	svc, err := wsedge.New(cfg, deps)
	if err != nil {
		h.tb.Fatalf("New: %v", err)
	}
	h.svc = svc
	h.run(svc.Run)
}

// run runs fn in the background until Cleanup or stop cancels it.
func (h *harness) run(fn func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.runErr = make(chan error, 1)
	go func() { h.runErr <- fn(ctx) }()
	h.tb.Cleanup(func() {
		cancel()
		select {
		case <-h.runErr:
		case <-time.After(15 * time.Second):
			h.tb.Errorf("Run did not return within 15s of cancel")
		}
	})
}

// stop cancels Run and returns its error.
func (h *harness) stop() error {
	h.tb.Helper()
	h.cancel()
	return h.wait(15 * time.Second)
}

// wait returns Run's error once it returned.
func (h *harness) wait(timeout time.Duration) error {
	h.tb.Helper()
	select {
	case err := <-h.runErr:
		h.runErr <- err // keep it for Cleanup
		return err
	case <-time.After(timeout):
		h.tb.Fatalf("Run did not return within %v", timeout)
		return nil
	}
}

// handshaken accepts the next dial, completes the handshake for one
// identity, and waits until ws-edge is ready.
func (h *harness) handshaken() *peer {
	h.tb.Helper()
	p := h.conn.accept(5 * time.Second)
	p.handshake(1)
	h.waitReady()
	return p
}

func (h *harness) waitReady() {
	h.tb.Helper()
	natstest.WaitFor(h.tb, 5*time.Second, func() error { return h.svc.Ready(context.Background()) })
}

// streamMsgs returns every message of stream whose subject matches filter
// ("" for all), once there are want of them.
func (h *harness) streamMsgs(stream, filter string, want int) []*jetstream.RawStreamMsg {
	h.tb.Helper()
	var msgs []*jetstream.RawStreamMsg
	natstest.WaitFor(h.tb, 5*time.Second, func() error {
		var err error
		msgs, err = h.readStream(stream, filter)
		if err != nil {
			return err
		}
		if len(msgs) != want {
			return fmt.Errorf("%s has %d messages on %q, want %d", stream, len(msgs), filter, want)
		}
		return nil
	})
	return msgs
}

// readStream returns the messages of stream on filter right now.
func (h *harness) readStream(stream, filter string) ([]*jetstream.RawStreamMsg, error) {
	all, err := natstest.Stored(context.Background(), h.js, stream)
	if err != nil {
		return nil, err
	}
	var out []*jetstream.RawStreamMsg
	for _, m := range all {
		if filter == "" || subjectMatches(filter, m.Subject) {
			out = append(out, m)
		}
	}
	return out, nil
}

// subjectMatches reports whether subject matches filter (with * and >).
func subjectMatches(filter, subject string) bool {
	f, s := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, tok := range f {
		switch {
		case tok == ">":
			return len(s) > i
		case i >= len(s):
			return false
		case tok != "*" && tok != s[i]:
			return false
		}
	}
	return len(f) == len(s)
}

// request sends an edge request and returns the reply body.
func (h *harness) request(subject string, body []byte, hdr nats.Header, timeout time.Duration) *nats.Msg {
	h.tb.Helper()
	m := nats.NewMsg(subject)
	m.Data = body
	for k, v := range hdr {
		m.Header[k] = v
	}
	reply, err := h.nc.RequestMsg(m, timeout)
	if err != nil {
		h.tb.Fatalf("request %s: %v", subject, err)
	}
	return reply
}

// metric returns the sum of the series of family name whose labels include
// the given pairs (k1, v1, ...), from the service's registry.
func (h *harness) metric(name string, labels ...string) float64 {
	h.tb.Helper()
	m, err := ops.Gather(h.reg)
	if err != nil {
		h.tb.Fatalf("gather: %v", err)
	}
	return m.Sum(name, labels...)
}

// waitMetric polls until a metric reaches want.
func (h *harness) waitMetric(want float64, name string, labels ...string) {
	h.tb.Helper()
	natstest.WaitFor(h.tb, 5*time.Second, func() error {
		if got := h.metric(name, labels...); got != want {
			return fmt.Errorf("%s%v = %v, want %v", name, labels, got, want)
		}
		return nil
	})
}

// inboundFrame is an inbound frame with text and, when not empty, a bufferId.
func inboundFrame(bufferID, text string) string {
	b := `{"type":"inbound"`
	if bufferID != "" {
		b += `,"bufferId":"` + bufferID + `"`
	}
	return b + `,"event":{"text":"` + text + `","source":{"platform":"discord","chat_id":"c1"}}}`
}

// rawInbound matches every stored inbound frame
// (relay.raw.inbound.<partition>).
var rawInbound = events.RawSubject(wire.FrameInbound) + ".>"
