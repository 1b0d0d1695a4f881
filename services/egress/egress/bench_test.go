package egress_test

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/services/egress/egress"
)

// benchChats is how many distinct chats the benchmark actions go to (all
// with a scope in the cache), so that the per-chat workers share the load.
const benchChats = 256

// benchPayloads returns n msgpack send actions spread over benchChats.
func benchPayloads(b *testing.B, n int) [][]byte {
	b.Helper()
	out := make([][]byte, n)
	for i := range out {
		a := events.Action{Op: events.OpSend, ChatID: fmt.Sprintf("chan%d", i%benchChats), Content: "a typical short agent reply of a few words", ReplyTo: strptr("m1")}
		data, err := events.Marshal(a, events.ContentTypeMsgpack)
		if err != nil {
			b.Fatal(err)
		}
		out[i] = data
	}
	return out
}

// publishAll publishes the payloads on relay.outbound.send asynchronously,
// as agents do, with fresh action ids.
func publishAll(b *testing.B, js jetstream.JetStream, run int, payloads [][]byte) {
	b.Helper()
	for i, data := range payloads {
		m := &nats.Msg{Subject: "relay.outbound.send", Data: data, Header: nats.Header{
			events.ContentTypeHeader: {events.ContentTypeMsgpack},
			events.MsgIDHeader:       {fmt.Sprintf("bench-%d-%d", run, i)},
		}}
		for {
			_, err := js.PublishMsgAsync(m)
			if errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
				continue // the library waited for acks; try again
			}
			if err != nil {
				b.Fatalf("publish: %v", err)
			}
			break
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("publishes not acknowledged within a minute")
	}
}

var benchRun atomic.Int64

// arrivals counts what reaches a benchmark's receiver; done is closed at
// the n-th.
type arrivals struct {
	n    int64
	got  atomic.Int64
	done chan struct{}
}

func newArrivals(n int) *arrivals { return &arrivals{n: int64(n), done: make(chan struct{})} }

func (a *arrivals) add() {
	if a.got.Add(1) == a.n {
		close(a.done)
	}
}

// publishAndTime publishes b.N send actions (built before the clock starts)
// on a connection of its own to e's server with [publishAll], waits until
// all b.N reached the receiver (what it fails with after 5 minutes says
// what that is), and reports actions/s.
func publishAndTime(b *testing.B, e *env, a *arrivals, reached string) {
	b.Helper()
	payloads := benchPayloads(b, b.N)
	pjs := natstest.JetStream(b, natstest.Connect(b, e.ns))

	b.ResetTimer()
	start := time.Now()
	publishAll(b, pjs, int(benchRun.Add(1)), payloads)
	select {
	case <-a.done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("only %d of %d %s", a.got.Load(), b.N, reached)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "actions/s")
}

// BenchmarkEgressSend measures actions/s from relay.outbound.send (async
// msgpack publishes, file-backed JetStream) to the request arriving at a
// ws-edge stand-in, with every chat's scope served from the cache, the
// result stored in RELAY_RESULTS and the action acked.
func BenchmarkEgressSend(b *testing.B) {
	cfg := testConfig()
	cfg.Bus.Memory = false // file-backed streams, as in production
	cfg.Workers = 64
	e := attachEnvBus(b, natstest.RunServer(b), cfg.Bus)
	e.log = slog.New(slog.DiscardHandler) // no per-message debug formatting
	for i := range benchChats {
		e.putScope("discord", fmt.Sprintf("chan%d", i), events.Scope{ScopeID: "g1", UserID: "u1", Platform: "discord", ChatType: events.ChatGroup})
	}
	e.start(cfg)
	e.waitStatus("scopes cached", func(s egress.Status) bool { return s.ScopeEntries == benchChats })

	arrived := newArrivals(b.N)
	reply := []byte(`{"success":true,"message_id":"1"}`)
	rnc := natstest.Connect(b, e.ns)
	if _, err := rnc.QueueSubscribe(events.EdgeOutboundSubject, events.EdgeQueue, func(m *nats.Msg) {
		_ = m.Respond(reply)
		arrived.add()
	}); err != nil {
		b.Fatal(err)
	}
	if err := rnc.Flush(); err != nil {
		b.Fatal(err)
	}
	publishAndTime(b, e, arrived, "actions reached the edge")
	if hits := e.metric("relay_egress_scope_cache_hits_total"); b.N >= 1000 && hits < float64(b.N)*0.99 {
		b.Errorf("scope cache hits = %v of %d, want all from the cache", hits, b.N)
	}
}

// BenchmarkJetStreamCeiling is the same publish plus a durable pull
// consumer that only acks: the ceiling egress is measured against.
func BenchmarkJetStreamCeiling(b *testing.B) {
	cfg := testConfig()
	cfg.Bus.Memory = false
	e := attachEnvBus(b, natstest.RunServer(b), cfg.Bus)
	cnc := natstest.Connect(b, e.ns)
	cjs := natstest.JetStream(b, cnc)
	cons, err := cjs.CreateOrUpdateConsumer(b.Context(), events.OutboundStream, jetstream.ConsumerConfig{
		Durable: "ceiling", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 8 * 128,
	})
	if err != nil {
		b.Fatal(err)
	}
	arrived := newArrivals(b.N)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		_ = m.Ack()
		arrived.add()
	}, jetstream.PullMaxMessages(128))
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Stop()
	publishAndTime(b, e, arrived, "consumed")
}
