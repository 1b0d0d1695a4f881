package relaytest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/pkg/agent"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
)

// Agent is what an agent does with events, reduced to counting: a durable
// pull consumer on RELAY_INBOUND's message subjects that acks every event
// and records, per event id (MessageEvent.MessageID), the stream sequences
// it was delivered from. Two sequences for one id is a duplicated event;
// one sequence delivered twice is only the agent's own redelivery (its ack
// was lost), which the pipeline cannot cause or prevent. Safe for
// concurrent use.
type Agent struct {
	mu           sync.Mutex
	seqs         map[string][]uint64
	deliveries   int
	redeliveries int
	undecodable  int
}

// StartAgent creates (or binds to) the durable consumer and consumes until
// cleanup. The consumer survives server restarts and leader changes: the
// client re-issues its pull requests.
func StartAgent(tb testing.TB, js jetstream.JetStream, durable string) *Agent {
	tb.Helper()
	a := &Agent{seqs: make(map[string][]uint64)}
	var cons jetstream.Consumer
	natstest.WaitFor(tb, 30*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var err error
		cons, err = js.CreateOrUpdateConsumer(ctx, events.InboundStream, jetstream.ConsumerConfig{
			Durable:       durable,
			FilterSubject: events.InboundMessageSubjects,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       10 * time.Second,
			DeliverPolicy: jetstream.DeliverAllPolicy,
			MaxAckPending: 20000,
		})
		return err
	})
	cc, err := cons.Consume(a.handle,
		jetstream.PullExpiry(2*time.Second),
		jetstream.ConsumeErrHandler(func(jetstream.ConsumeContext, error) {}))
	if err != nil {
		tb.Fatalf("relaytest: agent consume: %v", err)
	}
	tb.Cleanup(cc.Stop)
	return a
}

func (a *Agent) handle(m jetstream.Msg) {
	md, err := m.Metadata()
	var ev events.MessageEvent
	if err == nil {
		err = events.Unmarshal(m.Data(), m.Headers().Get(events.ContentTypeHeader), &ev)
	}
	a.mu.Lock()
	a.deliveries++
	switch {
	case err != nil:
		a.undecodable++
	case slices.Contains(a.seqs[ev.MessageID], md.Sequence.Stream):
		a.redeliveries++
	default:
		a.seqs[ev.MessageID] = append(a.seqs[ev.MessageID], md.Sequence.Stream)
	}
	a.mu.Unlock()
	_ = m.Ack()
}

// Distinct returns how many distinct event ids the agent has seen.
func (a *Agent) Distinct() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.seqs)
}

// Counts returns, per event id, how many distinct stored events carried it.
func (a *Agent) Counts() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]int, len(a.seqs))
	for id, s := range a.seqs {
		out[id] = len(s)
	}
	return out
}

// Stats returns the deliveries, the agent-side redeliveries (same stream
// sequence again) and the events that did not decode.
func (a *Agent) Stats() (deliveries, redeliveries, undecodable int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.deliveries, a.redeliveries, a.undecodable
}

// WaitDistinct waits until the agent has seen n distinct event ids.
func (a *Agent) WaitDistinct(tb testing.TB, n int, timeout time.Duration) {
	tb.Helper()
	waitAtLeast(tb, timeout, "distinct events the agent has seen", n, a.Distinct)
}

// StoredEvents reads the whole of RELAY_INBOUND's message subjects and
// returns, per event id, how many stored events carry it: the ground truth
// against which "exactly once" is checked (independent of any consumer).
func StoredEvents(tb testing.TB, js jetstream.JetStream) map[string]int {
	tb.Helper()
	got := map[string]int{}
	Scan(tb, js, events.InboundStream, events.InboundMessageSubjects, func(m jetstream.Msg) {
		var ev events.MessageEvent
		if err := events.Unmarshal(m.Data(), m.Headers().Get(events.ContentTypeHeader), &ev); err != nil {
			tb.Errorf("stored event on %s does not decode: %v", m.Subject(), err)
			return
		}
		got[ev.MessageID]++
	})
	return got
}

// Scan calls fn for every message of stream on filter, in order, through
// an ephemeral consumer, and returns how many there were.
func Scan(tb testing.TB, js jetstream.JetStream, stream, filter string, fn func(jetstream.Msg)) int {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Retried: right after a cluster lost a node the API may answer "no
	// responders" or time out until the stream's new leader is elected.
	var cons jetstream.Consumer
	var err error
	for {
		cons, err = js.CreateConsumer(ctx, stream, jetstream.ConsumerConfig{
			FilterSubject:     filter,
			AckPolicy:         jetstream.AckNonePolicy,
			DeliverPolicy:     jetstream.DeliverAllPolicy,
			InactiveThreshold: 30 * time.Second,
			MemoryStorage:     true,
		})
		if err == nil || ctx.Err() != nil {
			break
		}
		tb.Logf("relaytest: scanning %s: %v; retrying", stream, err)
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil {
		tb.Fatalf("relaytest: scanning %s: %v", stream, err)
	}
	defer func() { _ = js.DeleteConsumer(context.Background(), stream, cons.CachedInfo().Name) }()
	total := int(cons.CachedInfo().NumPending)
	n := 0
	for n < total {
		batch, err := cons.Fetch(min(total-n, 500), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			tb.Fatalf("relaytest: scanning %s: %v", stream, err)
		}
		got := 0
		for m := range batch.Messages() {
			fn(m)
			got++
		}
		if err := batch.Error(); err != nil {
			tb.Fatalf("relaytest: scanning %s: %v", stream, err)
		}
		if got == 0 && ctx.Err() != nil {
			tb.Fatalf("relaytest: scanning %s: %d of %d messages read", stream, n, total)
		}
		n += got
	}
	return n
}

// StreamMsgs returns the number of messages stream holds.
func StreamMsgs(tb testing.TB, js jetstream.JetStream, stream string) (uint64, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.Msgs, nil
}

// WaitStreamEmpty waits until a work-queue stream (RELAY_RAW,
// RELAY_OUTBOUND) holds nothing: every message was acked by its stage, so
// no further output can appear.
func WaitStreamEmpty(tb testing.TB, js jetstream.JetStream, stream string, timeout time.Duration) {
	tb.Helper()
	natstest.WaitFor(tb, timeout, func() error {
		n, err := StreamMsgs(tb, js, stream)
		if err != nil {
			return err
		}
		if n != 0 {
			return fmt.Errorf("%s still holds %d messages", stream, n)
		}
		return nil
	})
}

// WaitConsumerIdle waits until a durable consumer has nothing pending and
// nothing awaiting an ack.
func WaitConsumerIdle(tb testing.TB, js jetstream.JetStream, stream, durable string, timeout time.Duration) {
	tb.Helper()
	natstest.WaitFor(tb, timeout, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := js.Consumer(ctx, stream, durable)
		if err != nil {
			return err
		}
		info, err := c.Info(ctx)
		if err != nil {
			return err
		}
		if info.NumPending != 0 || info.NumAckPending != 0 {
			return fmt.Errorf("%s/%s: %d pending, %d awaiting ack", stream, durable, info.NumPending, info.NumAckPending)
		}
		return nil
	})
}

// ConsumerInfo returns the current info of a durable consumer.
func ConsumerInfo(tb testing.TB, js jetstream.JetStream, stream, durable string) *jetstream.ConsumerInfo {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, stream, durable)
	if err != nil {
		tb.Fatalf("relaytest: consumer %s/%s: %v", stream, durable, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		tb.Fatalf("relaytest: consumer %s/%s: %v", stream, durable, err)
	}
	return info
}

// Sighting is one event a replica of an agent built on pkg/agent handled.
type Sighting struct {
	// ID is the event's MessageID.
	ID string
	// Attempt is the handler's attempt at the event (agent.Event.Delivery):
	// 1 the first time, more for a redelivery or an in-order retry.
	Attempt uint64
	// Replica names the replica that handled it.
	Replica string
	// At is when the handler was called.
	At time.Time
}

// Sightings is the log of the events an agent's replicas handled, in the
// order their handlers were called. Safe for concurrent use.
type Sightings struct {
	mu  sync.Mutex
	log []Sighting
	ids map[string]bool
}

func (s *Sightings) add(x Sighting) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ids == nil {
		s.ids = map[string]bool{}
	}
	s.log = append(s.log, x)
	s.ids[x.ID] = true
}

// Log returns the sightings so far.
func (s *Sightings) Log() []Sighting {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// Distinct returns how many distinct event ids were handled.
func (s *Sightings) Distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}

// ByReplica returns how many handler calls the replica named name made.
func (s *Sightings) ByReplica(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, x := range s.log {
		if x.Replica == name {
			n++
		}
	}
	return n
}

// WaitDistinct waits until n distinct event ids were handled.
func (s *Sightings) WaitDistinct(tb testing.TB, n int, timeout time.Duration) {
	tb.Helper()
	waitAtLeast(tb, timeout, "distinct events the agent replicas handled", n, s.Distinct)
}

// waitAtLeast waits until count() reaches n, failing the test after
// timeout with what was counted.
func waitAtLeast(tb testing.TB, timeout time.Duration, what string, n int, count func() int) {
	tb.Helper()
	natstest.WaitFor(tb, timeout, func() error {
		if got := count(); got < n {
			return fmt.Errorf("%s: %d, want %d", what, got, n)
		}
		return nil
	})
}

// AgentReplica is one replica of an agent built on pkg/agent, running in
// the test process on a NATS connection of its own.
type AgentReplica struct {
	Name string

	nc     *nats.Conn
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// StartAgentReplica runs agent.Client.Run with opts on a connection of its
// own to natsURL until cleanup (or [AgentReplica.Cut]). Each event is
// recorded in seen when its handler is called, then given to handle, when
// set (its error has the event retried). Run must return nil.
func StartAgentReplica(tb testing.TB, natsURL, name string, opts agent.Options, seen *Sightings, handle agent.Handler) *AgentReplica {
	tb.Helper()
	nc := Connect(tb, natsURL, name)
	cl, err := agent.New(nc, opts)
	if err != nil {
		tb.Fatalf("relaytest: agent %s: %v", name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &AgentReplica{Name: name, nc: nc, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = cl.Run(ctx, func(ctx context.Context, ev *agent.Event) error {
			seen.add(Sighting{ID: ev.MessageID, Attempt: ev.Delivery, Replica: name, At: time.Now()})
			if handle != nil {
				return handle(ctx, ev)
			}
			return nil
		})
	}()
	tb.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			tb.Errorf("agent replica %s still running 30s after it was stopped", name)
			return
		}
		if r.err != nil && !r.cut() {
			tb.Errorf("agent replica %s: Run = %v", name, r.err)
		}
	})
	return r
}

func (r *AgentReplica) cut() bool { return r.nc.IsClosed() }

// Cut closes the replica's connection at once, without a drain, and stops
// the replica: like a replica that crashed or lost its network for good,
// it acks nothing more. The server redelivers the events it held once
// their ack wait passes, and its partitions move once their pins expire.
func (r *AgentReplica) Cut() {
	r.nc.Close()
	r.cancel()
}
