package egress_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/services/egress/egress"
)

// env is one embedded server with the bus set up, a test connection, and
// (after start) one egress service on its own connection.
type env struct {
	t   testing.TB
	ns  *server.Server
	nc  *nats.Conn
	js  jetstream.JetStream
	reg *prometheus.Registry
	svc *egress.Service
	// log is the service's logger (nil: the test's output at Debug).
	log *slog.Logger

	stop func()
}

// testConfig is the default config with fast retries and memory streams
// (tests that restart the server use file streams).
func testConfig() egress.Config {
	cfg := egress.DefaultConfig()
	cfg.Bus.Memory = true
	cfg.Workers = 8
	cfg.RetryBase = 20 * time.Millisecond
	cfg.RetryMax = 100 * time.Millisecond
	cfg.ShutdownTimeout = 2 * time.Second
	return cfg
}

// newRunning is [newEnv] with egress started on [testConfig] and an edge
// responder answering with script.
func newRunning(t testing.TB, script func(n int, req edgeRequest) string) (*env, *responder) {
	t.Helper()
	e := newEnv(t)
	e.start(testConfig())
	return e, newResponder(t, e.ns, script)
}

// newEnv starts a server (with opts) and ensures the streams and buckets.
func newEnv(t testing.TB, opts ...natstest.Option) *env {
	t.Helper()
	ns := natstest.RunServer(t, opts...)
	return attachEnv(t, ns)
}

func attachEnv(t testing.TB, ns *server.Server, copts ...nats.Option) *env {
	t.Helper()
	return attachEnvBus(t, ns, testConfig().Bus, copts...)
}

func attachEnvBus(t testing.TB, ns *server.Server, bc bus.Config, copts ...nats.Option) *env {
	t.Helper()
	nc := natstest.Connect(t, ns, copts...)
	js := natstest.JetStream(t, nc)
	if err := bus.Ensure(t.Context(), js, bc); err != nil {
		t.Fatalf("bus.Ensure: %v", err)
	}
	return &env{t: t, ns: ns, nc: nc, js: js}
}

// asAdmin connects as the user of a [newLimitedEnv] server who may do
// anything.
var asAdmin = nats.UserInfo("admin", "a")

// newLimitedEnv is [attachEnv] on a server of its own with two users:
// "admin" (asAdmin), who may do anything and whom the env connects as, and
// "limited", who may not publish to the subjects deny and whom
// [env.startLimited] runs egress as. Denying "$JS.ACK.>" makes a replica
// whose acks never arrive, as if it crashed before it acked.
func newLimitedEnv(t testing.TB, deny ...string) *env {
	t.Helper()
	ns := natstest.RunServer(t, func(o *server.Options) {
		o.Users = []*server.User{
			{Username: "admin", Password: "a"},
			{Username: "limited", Password: "l", Permissions: &server.Permissions{
				Publish: &server.SubjectPermission{Deny: deny},
			}},
		}
	})
	return attachEnv(t, ns, asAdmin)
}

// startLimited is start as the limited user of a [newLimitedEnv] server,
// ignoring the asynchronous errors of its denied publishes.
func (e *env) startLimited(cfg egress.Config) {
	e.t.Helper()
	e.start(cfg, nats.UserInfo("limited", "l"), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
}

// start runs egress with cfg on its own connection until the test ends (or
// e.stop is called) and waits until it is ready.
func (e *env) start(cfg egress.Config, copts ...nats.Option) {
	e.t.Helper()
	e.reg = prometheus.NewRegistry()
	// Not natstest.Connect: Run drains and closes the connection itself.
	nc, err := nats.Connect(e.ns.ClientURL(), append([]nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(50 * time.Millisecond), nats.Name("egress")}, copts...)...)
	if err != nil {
		e.t.Fatalf("connect: %v", err)
	}
	log := e.log
	if log == nil {
		log = natstest.Logger(e.t)
	}
	svc, err := egress.New(cfg, egress.Deps{Log: log, NC: nc, Registerer: e.reg})
	if err != nil {
		nc.Close()
		e.t.Fatalf("egress.New: %v", err)
	}
	e.svc = svc
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					e.t.Errorf("Run = %v, want nil", err)
				}
			case <-time.After(10 * time.Second):
				e.t.Errorf("Run did not return within 10s of cancellation")
			}
		})
	}
	e.t.Cleanup(e.stop)
	natstest.WaitFor(e.t, 10*time.Second, func() error { return svc.Ready(e.t.Context()) })
}

// putScope writes a scope record the way the converter does.
func (e *env) putScope(platform, chatID string, sc events.Scope) {
	e.t.Helper()
	kv, err := e.js.KeyValue(e.t.Context(), events.ScopeBucket)
	if err != nil {
		e.t.Fatalf("scope bucket: %v", err)
	}
	data, err := events.Marshal(sc, events.ContentTypeMsgpack)
	if err != nil {
		e.t.Fatalf("marshal scope: %v", err)
	}
	if _, err := kv.Put(e.t.Context(), events.ScopeKey(platform, chatID), data); err != nil {
		e.t.Fatalf("put scope: %v", err)
	}
}

// putDescriptor writes a descriptor the way ws-edge does.
func (e *env) putDescriptor(platform string, desc map[string]any) {
	e.t.Helper()
	kv, err := e.js.KeyValue(e.t.Context(), events.DescriptorBucket)
	if err != nil {
		e.t.Fatalf("descriptor bucket: %v", err)
	}
	base := map[string]any{
		"contract_version": 1, "platform": platform, "label": platform, "max_message_length": 2000,
		"supports_draft_streaming": false, "supports_edit": true, "supports_threads": true,
		"markdown_dialect": "discord", "len_unit": "chars",
	}
	for k, v := range desc {
		base[k] = v
	}
	data, err := json.Marshal(base)
	if err != nil {
		e.t.Fatalf("marshal descriptor: %v", err)
	}
	if _, err := kv.Put(e.t.Context(), events.DescriptorKey(platform), data); err != nil {
		e.t.Fatalf("put descriptor: %v", err)
	}
}

// status asks the micro status endpoint.
func (e *env) status() egress.Status {
	e.t.Helper()
	st, err := e.tryStatus()
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

func (e *env) tryStatus() (egress.Status, error) {
	var st egress.Status
	m, err := e.nc.Request(egress.StatusSubject, nil, 2*time.Second)
	if err != nil {
		return st, fmt.Errorf("status request: %w", err)
	}
	if err := json.Unmarshal(m.Data, &st); err != nil {
		return st, fmt.Errorf("status %s: %w", m.Data, err)
	}
	return st, nil
}

// waitStatus waits until cond holds for the status.
func (e *env) waitStatus(what string, cond func(egress.Status) bool) {
	e.t.Helper()
	natstest.WaitFor(e.t, 10*time.Second, func() error {
		st, err := e.tryStatus()
		if err != nil {
			return err
		}
		if !cond(st) {
			return fmt.Errorf("%s: status %+v", what, st)
		}
		return nil
	})
}

// results subscribes to an action's results (before it is published).
func (e *env) results(id string) *nats.Subscription {
	e.t.Helper()
	sub, err := e.nc.SubscribeSync(events.ResultsSubject(id))
	if err != nil {
		e.t.Fatalf("subscribe results: %v", err)
	}
	e.t.Cleanup(func() { _ = sub.Unsubscribe() })
	return sub
}

// nextResult reads the next result from sub.
func nextResult(t testing.TB, sub *nats.Subscription) events.SendResult {
	t.Helper()
	m, err := sub.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("no result on %s: %v", sub.Subject, err)
	}
	if got := m.Header.Get(events.TypeHeader); got != events.TypeSendResult {
		t.Errorf("result %s = %q, want %q", events.TypeHeader, got, events.TypeSendResult)
	}
	var r events.SendResult
	if err := events.Unmarshal(m.Data, m.Header.Get(events.ContentTypeHeader), &r); err != nil {
		t.Fatalf("decode result: %v", err)
	}
	return r
}

// publish stores an action on relay.outbound.<op>: v is encoded in ct
// (msgpack when ct is empty or msgpack); raw []byte is sent as is.
func (e *env) publish(op, id, ct string, v any, hdr ...string) {
	e.t.Helper()
	var data []byte
	switch x := v.(type) {
	case []byte:
		data = x
	default:
		var err error
		if data, err = events.Marshal(v, ct); err != nil {
			e.t.Fatalf("marshal action: %v", err)
		}
	}
	m := nats.NewMsg(events.OutboundSubject(op))
	m.Data = data
	if ct != "" {
		m.Header.Set(events.ContentTypeHeader, ct)
	}
	if id != "" {
		m.Header.Set(events.MsgIDHeader, id)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		m.Header.Set(hdr[i], hdr[i+1])
	}
	if _, err := e.js.PublishMsg(e.t.Context(), m); err != nil {
		e.t.Fatalf("publish action: %v", err)
	}
}

// send publishes an msgpack action and returns its first result.
func (e *env) send(id string, a events.Action) events.SendResult {
	e.t.Helper()
	sub := e.results(id)
	e.publish(a.Op, id, events.ContentTypeMsgpack, a)
	return nextResult(e.t, sub)
}

// deadLetters returns the dead letters stored so far.
func (e *env) deadLetters() []*jetstream.RawStreamMsg {
	e.t.Helper()
	out, err := natstest.Stored(e.t.Context(), e.js, events.DLQStream)
	if err != nil {
		e.t.Fatalf("dead letters: %v", err)
	}
	return out
}

// settled waits until the egress consumer has nothing pending or unacked.
func (e *env) settled() {
	e.t.Helper()
	natstest.WaitFor(e.t, 10*time.Second, func() error {
		c, err := e.js.Consumer(e.t.Context(), events.OutboundStream, egress.Name)
		if err != nil {
			return err
		}
		info, err := c.Info(e.t.Context())
		if err != nil {
			return err
		}
		if info.NumPending != 0 || info.NumAckPending != 0 {
			return fmt.Errorf("consumer pending %d, ack pending %d", info.NumPending, info.NumAckPending)
		}
		return nil
	})
}

// wantEdgeRequests waits until egress has settled, then checks that resp
// got n edge requests; why, when not empty, says what n means.
func (e *env) wantEdgeRequests(resp *responder, n int, why string) {
	e.t.Helper()
	e.settled()
	if got := resp.count(); got != n {
		if why != "" {
			why = " (" + why + ")"
		}
		e.t.Errorf("edge requests = %d, want %d%s", got, n, why)
	}
}

// metric returns the sum of the counters or gauges named name whose labels
// include the given "k=v" pairs, from the service's registry.
func (e *env) metric(name string, labels ...string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatalf("gather: %v", err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for _, l := range labels {
				k, v, _ := strings.Cut(l, "=")
				if have[k] != v {
					continue next
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// edgeRequest is what the responder saw.
type edgeRequest struct {
	Action map[string]any
	Raw    string
	Header nats.Header
}

// responder plays ws-edge: it answers relay.edge.outbound in the ws-edge
// queue group with scripted result JSON and records every request.
type responder struct {
	t      testing.TB
	mu     sync.Mutex
	reqs   []edgeRequest
	sub    *nats.Subscription
	script func(n int, req edgeRequest) string
}

// ok answers every request with success and message id m<n>.
func ok(n int, _ edgeRequest) string { return fmt.Sprintf(`{"success":true,"message_id":"m%d"}`, n) }

// newResponder subscribes a responder on its own connection to ns.
func newResponder(t testing.TB, ns *server.Server, script func(n int, req edgeRequest) string, copts ...nats.Option) *responder {
	t.Helper()
	nc := natstest.Connect(t, ns, copts...)
	r := &responder{t: t, script: script}
	sub, err := nc.QueueSubscribe(events.EdgeOutboundSubject, events.EdgeQueue, func(m *nats.Msg) {
		req := edgeRequest{Raw: string(m.Data), Header: m.Header}
		if err := json.Unmarshal(m.Data, &req.Action); err != nil {
			t.Errorf("edge request is not JSON: %v: %s", err, m.Data)
		}
		r.mu.Lock()
		r.reqs = append(r.reqs, req)
		n := len(r.reqs)
		r.mu.Unlock()
		_ = m.Respond([]byte(r.script(n, req)))
	})
	if err != nil {
		t.Fatalf("responder subscribe: %v", err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatalf("responder flush: %v", err)
	}
	r.sub = sub
	return r
}

func (r *responder) requests() []edgeRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]edgeRequest(nil), r.reqs...)
}

func (r *responder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

// waitFirst waits until r got its first request.
func (r *responder) waitFirst() {
	r.t.Helper()
	natstest.WaitFor(r.t, 10*time.Second, func() error {
		if r.count() == 0 {
			return errors.New("no edge request yet")
		}
		return nil
	})
}

func strptr(s string) *string { return &s }
