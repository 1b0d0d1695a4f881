package consume_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/consume"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
)

// seen records handled payloads and how often each was handled.
type seen struct {
	mu sync.Mutex
	m  map[string]int
}

func (s *seen) add(k string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]int{}
	}
	s.m[k]++
	return s.m[k]
}

func (s *seen) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

func setup(t *testing.T, opts ...natstest.Option) (jetstream.JetStream, *nats.Conn) {
	t.Helper()
	ns := natstest.RunServer(t, opts...)
	nc := natstest.Connect(t, ns)
	js := natstest.JetStream(t, nc)
	if err := bus.Ensure(t.Context(), js, bus.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	return js, nc
}

func publish(t *testing.T, js jetstream.JetStream, n int, from int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if _, err := js.Publish(t.Context(), "relay.raw.test", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
}

func start(t testing.TB, js jetstream.JetStream, cfg consume.Config, h consume.Handler) (*consume.Loop, func()) {
	t.Helper()
	if cfg.Stream == "" {
		cfg.Stream, cfg.Durable, cfg.Stage = events.RawStream, "test", "test"
	}
	if cfg.Log == nil {
		cfg.Log = natstest.Logger(t)
	}
	l, err := consume.New(js, cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	}
	t.Cleanup(func() {
		select {
		case <-ctx.Done():
		default:
			stop()
		}
	})
	return l, stop
}

func TestHandlesEveryMessageOnce(t *testing.T) {
	js, _ := setup(t)
	var s seen
	_, stop := start(t, js, consume.Config{Workers: 8}, func(_ context.Context, m jetstream.Msg) error {
		s.add(string(m.Data()))
		return nil
	})
	publish(t, js, 500, 0)
	natstest.WaitFor(t, 10*time.Second, func() error {
		if n := s.count(); n != 500 {
			return fmt.Errorf("handled %d, want 500", n)
		}
		return nil
	})
	stop()
	for k, n := range s.m {
		if n != 1 {
			t.Errorf("message %s handled %d times, want 1", k, n)
		}
	}
	info, err := js.Stream(t.Context(), events.RawStream)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.CachedInfo().State.Msgs; got != 0 {
		t.Errorf("work queue holds %d messages after acks, want 0", got)
	}
}

func TestShardKeepsOrder(t *testing.T) {
	js, _ := setup(t)
	var mu sync.Mutex
	var got []int
	_, stop := start(t, js, consume.Config{Workers: 8, Shard: func(jetstream.Msg) uint64 { return 7 }}, func(_ context.Context, m jetstream.Msg) error {
		n, _ := strconv.Atoi(string(m.Data()))
		mu.Lock()
		got = append(got, n)
		mu.Unlock()
		return nil
	})
	publish(t, js, 300, 0)
	natstest.WaitFor(t, 10*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 300 {
			return fmt.Errorf("handled %d, want 300", len(got))
		}
		return nil
	})
	stop()
	for i, n := range got {
		if n != i {
			t.Fatalf("message %d handled at position %d: same-shard order not kept", n, i)
		}
	}
}

func dlqMessages(t *testing.T, js jetstream.JetStream, want int) []jetstream.Msg {
	t.Helper()
	var out []jetstream.Msg
	natstest.WaitFor(t, 10*time.Second, func() error {
		s, err := js.Stream(t.Context(), events.DLQStream)
		if err != nil {
			return err
		}
		info, err := s.Info(t.Context())
		if err != nil {
			return err
		}
		if int(info.State.Msgs) != want {
			return fmt.Errorf("dlq holds %d, want %d", info.State.Msgs, want)
		}
		out = out[:0]
		if want == 0 {
			return nil
		}
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
			rm, err := s.GetMsg(t.Context(), seq)
			if err != nil {
				return err
			}
			out = append(out, &rawMsg{rm})
		}
		return nil
	})
	return out
}

// rawMsg adapts a stored message for header checks.
type rawMsg struct{ *jetstream.RawStreamMsg }

func (r *rawMsg) Metadata() (*jetstream.MsgMetadata, error) { return nil, nil }
func (r *rawMsg) Data() []byte                              { return r.RawStreamMsg.Data }
func (r *rawMsg) Headers() nats.Header                      { return r.Header }
func (r *rawMsg) Subject() string                           { return r.RawStreamMsg.Subject }
func (r *rawMsg) Reply() string                             { return "" }
func (r *rawMsg) Ack() error                                { return nil }
func (r *rawMsg) DoubleAck(context.Context) error           { return nil }
func (r *rawMsg) Nak() error                                { return nil }
func (r *rawMsg) NakWithDelay(time.Duration) error          { return nil }
func (r *rawMsg) InProgress() error                         { return nil }
func (r *rawMsg) Term() error                               { return nil }
func (r *rawMsg) TermWithReason(string) error               { return nil }

func TestPermanentErrorDeadLetters(t *testing.T) {
	js, _ := setup(t)
	var s seen
	start(t, js, consume.Config{Workers: 2}, func(_ context.Context, m jetstream.Msg) error {
		s.add(string(m.Data()))
		if string(m.Data()) == "3" {
			return consume.Permanent(&events.FrameError{Reason: events.ReasonBadBody, Detail: "three is bad"})
		}
		return nil
	})
	publish(t, js, 5, 0)
	dl := dlqMessages(t, js, 1)
	m := dl[0]
	if got := string(m.Data()); got != "3" {
		t.Errorf("dead letter data = %q, want %q", got, "3")
	}
	h := m.Headers()
	for k, want := range map[string]string{
		events.ErrorCodeHeader: events.ReasonBadBody,
		events.StageHeader:     "test",
		events.SubjectHeader:   "relay.raw.test",
		events.ErrorHeader:     "events: bad frame: bad_body: three is bad",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("dead letter header %s = %q, want %q", k, got, want)
		}
	}
	if n := s.add("3") - 1; n != 1 {
		t.Errorf("permanent failure handled %d times, want 1 (no retry)", n)
	}
}

func TestRetriesThenDeadLettersAtMaxDeliver(t *testing.T) {
	js, _ := setup(t)
	var s seen
	start(t, js, consume.Config{Workers: 2, MaxDeliver: 3, NakBase: time.Millisecond, NakMax: 5 * time.Millisecond},
		func(_ context.Context, m jetstream.Msg) error {
			s.add(string(m.Data()))
			return errors.New("downstream unavailable")
		})
	publish(t, js, 1, 0)
	dl := dlqMessages(t, js, 1)
	if got := dl[0].Headers().Get(events.ErrorCodeHeader); got != "internal" {
		t.Errorf("Relay-Error-Code = %q, want internal", got)
	}
	if n := s.add("0") - 1; n != 3 {
		t.Errorf("handled %d times, want MaxDeliver=3", n)
	}
}

func TestTransientErrorRecovers(t *testing.T) {
	js, _ := setup(t)
	var s seen
	start(t, js, consume.Config{Workers: 2, NakBase: time.Millisecond}, func(_ context.Context, m jetstream.Msg) error {
		if s.add(string(m.Data())) < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	publish(t, js, 1, 0)
	natstest.WaitFor(t, 10*time.Second, func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.m["0"] != 3 {
			return fmt.Errorf("handled %d times, want 3", s.m["0"])
		}
		return nil
	})
	dlqMessages(t, js, 0)
}

func TestPanicIsContained(t *testing.T) {
	js, _ := setup(t)
	var s seen
	start(t, js, consume.Config{Workers: 1}, func(_ context.Context, m jetstream.Msg) error {
		if string(m.Data()) == "1" {
			panic("boom")
		}
		s.add(string(m.Data()))
		return nil
	})
	publish(t, js, 3, 0)
	natstest.WaitFor(t, 10*time.Second, func() error {
		if s.count() != 2 {
			return fmt.Errorf("handled %d, want 2", s.count())
		}
		return nil
	})
	dl := dlqMessages(t, js, 1)
	if got := string(dl[0].Data()); got != "1" {
		t.Errorf("dead letter = %q, want the panicking message", got)
	}
}

func TestRecreatesDeletedConsumer(t *testing.T) {
	js, _ := setup(t)
	var s seen
	l, _ := start(t, js, consume.Config{Workers: 4, Heartbeat: 500 * time.Millisecond}, func(_ context.Context, m jetstream.Msg) error {
		s.add(string(m.Data()))
		return nil
	})
	natstest.WaitFor(t, 5*time.Second, l.Ready)
	publish(t, js, 10, 0)
	natstest.WaitFor(t, 5*time.Second, func() error {
		if s.count() != 10 {
			return fmt.Errorf("handled %d, want 10", s.count())
		}
		return nil
	})
	if err := js.DeleteConsumer(t.Context(), events.RawStream, "test"); err != nil {
		t.Fatal(err)
	}
	publish(t, js, 10, 10)
	natstest.WaitFor(t, 15*time.Second, func() error {
		if s.count() != 20 {
			return fmt.Errorf("handled %d after consumer deletion, want 20", s.count())
		}
		return nil
	})
}

func TestSurvivesServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a server")
	}
	dir := t.TempDir()
	ns := natstest.RunServer(t, natstest.WithStoreDir(dir))
	nc := natstest.Connect(t, ns)
	js := natstest.JetStream(t, nc)
	if err := bus.Ensure(t.Context(), js, bus.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	var s seen
	l, _ := start(t, js, consume.Config{Workers: 4, Heartbeat: 500 * time.Millisecond,
		Ensure: func(ctx context.Context) error { return bus.Ensure(ctx, js, bus.DefaultConfig()) }},
		func(_ context.Context, m jetstream.Msg) error {
			s.add(string(m.Data()))
			return nil
		})
	natstest.WaitFor(t, 5*time.Second, l.Ready)
	publish(t, js, 10, 0)
	natstest.WaitFor(t, 5*time.Second, func() error {
		if s.count() != 10 {
			return fmt.Errorf("handled %d, want 10", s.count())
		}
		return nil
	})
	natstest.Restart(t, ns, dir)
	natstest.WaitFor(t, 10*time.Second, func() error {
		if !nc.IsConnected() {
			return errors.New("client not reconnected")
		}
		return nil
	})
	natstest.WaitFor(t, 10*time.Second, func() error {
		_, err := js.Publish(t.Context(), "relay.raw.test", []byte("after"))
		return err
	})
	natstest.WaitFor(t, 20*time.Second, func() error {
		if s.count() != 11 {
			return fmt.Errorf("handled %d after restart, want 11", s.count())
		}
		return nil
	})
}

func TestShutdownFinishesInFlight(t *testing.T) {
	js, _ := setup(t)
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	var s seen
	_, stop := start(t, js, consume.Config{Workers: 1}, func(_ context.Context, m jetstream.Msg) error {
		started <- struct{}{}
		<-release
		s.add(string(m.Data()))
		return nil
	})
	publish(t, js, 1, 0)
	<-started
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Run returned while a handler was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-stopped
	if s.count() != 1 {
		t.Fatal("in-flight message not finished")
	}
	info, err := js.Stream(t.Context(), events.RawStream)
	if err != nil {
		t.Fatal(err)
	}
	natstest.WaitFor(t, 5*time.Second, func() error {
		i, err := info.Info(t.Context())
		if err != nil {
			return err
		}
		if i.State.Msgs != 0 {
			return fmt.Errorf("in-flight message not acked (%d left)", i.State.Msgs)
		}
		return nil
	})
}

// TestQueuedMessagesOutliveAckWait: a message waiting behind a slow one on
// the same shard must not be redelivered (to this or another replica) when
// its ack wait runs out in the queue: it is handled exactly once.
func TestQueuedMessagesOutliveAckWait(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out several ack waits")
	}
	js, _ := setup(t)
	var s seen
	release := make(chan struct{})
	h := func(_ context.Context, m jetstream.Msg) error {
		if string(m.Data()) == "0" {
			<-release // a slow send: longer than the ack wait
		}
		s.add(string(m.Data()))
		return nil
	}
	cfg := consume.Config{Workers: 2, AckWait: 300 * time.Millisecond, Shard: func(jetstream.Msg) uint64 { return 1 }}
	start(t, js, cfg, h)
	start(t, js, cfg, h) // a second replica that would take redeliveries
	publish(t, js, 5, 0)
	// Hold the first message for several ack waits, then let it go.
	time.AfterFunc(1500*time.Millisecond, func() { close(release) })
	natstest.WaitFor(t, 10*time.Second, func() error {
		if s.count() != 5 {
			return fmt.Errorf("handled %d, want 5", s.count())
		}
		return nil
	})
	natstest.WaitFor(t, 5*time.Second, func() error {
		st, err := js.Stream(t.Context(), events.RawStream)
		if err != nil {
			return err
		}
		info, err := st.Info(t.Context())
		if err != nil {
			return err
		}
		if info.State.Msgs != 0 {
			return fmt.Errorf("%d messages not acked", info.State.Msgs)
		}
		return nil
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, n := range s.m {
		if n != 1 {
			t.Errorf("message %s handled %d times, want 1", k, n)
		}
	}
}
