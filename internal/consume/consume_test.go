package consume_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/consume"
	"github.com/relaybus/relaybus/internal/ops"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
)

// The loop itself is tested in pkg/consume; these tests cover what a
// stage adds: dead letters on relay.dlq.<stage> and the metrics.

func setup(t *testing.T) jetstream.JetStream {
	t.Helper()
	js := natstest.JetStream(t, natstest.Connect(t, natstest.RunServer(t)))
	if err := bus.Ensure(t.Context(), js, bus.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	return js
}

func publish(t *testing.T, js jetstream.JetStream, n int) {
	t.Helper()
	for i := range n {
		if _, err := js.Publish(t.Context(), "relay.raw.test", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
}

// start runs the loop of stage "test" on RELAY_RAW until the test ends and
// returns the registry of its metrics.
func start(t testing.TB, js jetstream.JetStream, cfg consume.Config, h consume.Handler) (*consume.Loop, *prometheus.Registry) {
	t.Helper()
	cfg.Stream, cfg.Durable, cfg.Log = events.RawStream, "test", natstest.Logger(t)
	reg := prometheus.NewRegistry()
	l, err := consume.New(js, "test", reg, cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	natstest.Go(t, "consume loop", l.Run)
	return l, reg
}

// metric sums reg's series of name whose labels include the given pairs
// (k1, v1, ...).
func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	m, err := ops.Gather(reg)
	if err != nil {
		t.Fatal(err)
	}
	return m.Sum(name, labels...)
}

// counter counts handler calls per payload.
type counter struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counter) add(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[k]++
}

func (c *counter) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k]
}

func dlqMessages(t *testing.T, js jetstream.JetStream, want int) []*jetstream.RawStreamMsg {
	t.Helper()
	return natstest.WaitStored(t, js, events.DLQStream, want, 10*time.Second)
}

func TestPermanentErrorDeadLetters(t *testing.T) {
	js := setup(t)
	var c counter
	_, reg := start(t, js, consume.Config{Workers: 2}, func(_ context.Context, m jetstream.Msg) error {
		c.add(string(m.Data()))
		if string(m.Data()) == "3" {
			return consume.Permanent(&events.FrameError{Reason: events.ReasonBadBody, Detail: "three is bad"})
		}
		return nil
	})
	publish(t, js, 5)
	m := dlqMessages(t, js, 1)[0]
	if got := string(m.Data); got != "3" {
		t.Errorf("dead letter data = %q, want %q", got, "3")
	}
	if m.Subject != "relay.dlq.test" {
		t.Errorf("dead letter subject = %q, want relay.dlq.test", m.Subject)
	}
	for k, want := range map[string]string{
		events.ErrorCodeHeader: events.ReasonBadBody,
		events.StageHeader:     "test",
		events.SubjectHeader:   "relay.raw.test",
		events.ErrorHeader:     "events: bad frame: bad_body: three is bad",
	} {
		if got := m.Header.Get(k); got != want {
			t.Errorf("dead letter header %s = %q, want %q", k, got, want)
		}
	}
	if n := c.get("3"); n != 1 {
		t.Errorf("permanent failure handled %d times, want 1 (no retry)", n)
	}
	natstest.WaitFor(t, 5*time.Second, func() error {
		acked := metric(t, reg, "relay_consume_messages_total", "stage", "test", "outcome", "acked")
		dead := metric(t, reg, "relay_consume_messages_total", "stage", "test", "outcome", "dead_lettered")
		if acked != 4 || dead != 1 {
			return fmt.Errorf("outcomes acked=%v dead_lettered=%v, want 4 and 1", acked, dead)
		}
		return nil
	})
}

func TestRetriesThenDeadLettersAtMaxDeliver(t *testing.T) {
	js := setup(t)
	var c counter
	_, reg := start(t, js, consume.Config{Workers: 2, MaxDeliver: 3, NakBase: time.Millisecond, NakMax: 5 * time.Millisecond},
		func(_ context.Context, m jetstream.Msg) error {
			c.add(string(m.Data()))
			return errors.New("downstream unavailable")
		})
	publish(t, js, 1)
	dl := dlqMessages(t, js, 1)
	if got := dl[0].Header.Get(events.ErrorCodeHeader); got != "internal" {
		t.Errorf("Relay-Error-Code = %q, want internal", got)
	}
	if n := c.get("0"); n != 3 {
		t.Errorf("handled %d times, want MaxDeliver=3", n)
	}
	if got := metric(t, reg, "relay_consume_messages_total", "outcome", "retried"); got != 2 {
		t.Errorf("retried outcomes = %v, want 2", got)
	}
}

// TestPanicIsDeadLetteredAtOnce: a stage gives a panicking payload up on
// its first delivery (it would panic again), with the reason "internal".
func TestPanicIsDeadLetteredAtOnce(t *testing.T) {
	js := setup(t)
	var c counter
	_, reg := start(t, js, consume.Config{Workers: 1}, func(_ context.Context, m jetstream.Msg) error {
		c.add(string(m.Data()))
		if string(m.Data()) == "1" {
			panic("boom")
		}
		return nil
	})
	publish(t, js, 3)
	dl := dlqMessages(t, js, 1)
	if got := string(dl[0].Data); got != "1" {
		t.Errorf("dead letter = %q, want the panicking message", got)
	}
	if got := dl[0].Header.Get(events.ErrorCodeHeader); got != "internal" {
		t.Errorf("Relay-Error-Code = %q, want internal", got)
	}
	natstest.WaitFor(t, 5*time.Second, func() error {
		if c.get("0") != 1 || c.get("2") != 1 {
			return errors.New("the other messages not handled")
		}
		return nil
	})
	if n := c.get("1"); n != 1 {
		t.Errorf("panicking message handled %d times, want 1", n)
	}
	if got := metric(t, reg, "relay_consume_panics_total", "stage", "test"); got != 1 {
		t.Errorf("relay_consume_panics_total = %v, want 1", got)
	}
}

func TestNewRequiresStage(t *testing.T) {
	_, err := consume.New(nil, "", nil, consume.Config{Stream: "S", Durable: "d"}, nil)
	if !errors.Is(err, consume.ErrInvalidConfig) {
		t.Errorf("New without a stage = %v, want ErrInvalidConfig", err)
	}
}
