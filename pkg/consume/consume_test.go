package consume_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/pkg/consume"
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

// handle is a handler that records each message.
func (s *seen) handle(_ context.Context, m jetstream.Msg) error {
	s.add(string(m.Data()))
	return nil
}

// wait waits until n distinct messages were handled.
func (s *seen) wait(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	natstest.WaitFor(t, timeout, func() error {
		if got := s.count(); got != n {
			return fmt.Errorf("handled %d, want %d", got, n)
		}
		return nil
	})
}

// The work-queue stream the tests consume, like a stage's input stream.
const (
	stream  = "WORK"
	subject = "work.test"
	durable = "test"
)

// ensure creates the stream (again); it is the loops' Ensure hook too.
func ensure(ctx context.Context, js jetstream.JetStream) error {
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{"work.>"}, Retention: jetstream.WorkQueuePolicy})
	return err
}

// setup starts a server (restartable) with the stream.
func setup(t *testing.T) (jetstream.JetStream, *nats.Conn, *natstest.NATS) {
	t.Helper()
	n := natstest.StartNATS(t)
	nc := natstest.Connect(t, n.Server)
	js := natstest.JetStream(t, nc)
	if err := ensure(t.Context(), js); err != nil {
		t.Fatal(err)
	}
	return js, nc, n
}

func publish(t *testing.T, js jetstream.JetStream, n int, from int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if _, err := js.Publish(t.Context(), subject, []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
}

func start(t testing.TB, js jetstream.JetStream, cfg consume.Config, h consume.Handler) (*consume.Loop, func()) {
	t.Helper()
	if cfg.Stream == "" {
		cfg.Stream, cfg.Durable = stream, durable
	}
	if cfg.Log == nil {
		cfg.Log = natstest.Logger(t)
	}
	l, err := consume.New(js, cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	return l, natstest.Go(t, "consume loop", l.Run)
}

// pending returns how many messages the stream still holds (a work queue:
// the ones not acked or terminated yet).
func pending(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	st, err := js.Stream(t.Context(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// waitSettled waits until the stream holds no message (all acked or
// terminated).
func waitSettled(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	natstest.WaitFor(t, 5*time.Second, func() error {
		if n := pending(t, js); n != 0 {
			return fmt.Errorf("%d messages not settled", n)
		}
		return nil
	})
}

// letters records what the DeadLetter hook was handed. Safe for
// concurrent use.
type letters struct {
	mu     sync.Mutex
	data   []string
	causes []error
}

func (d *letters) hook(_ context.Context, m jetstream.Msg, cause error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.data = append(d.data, string(m.Data()))
	d.causes = append(d.causes, cause)
	return nil
}

// wait waits until exactly n messages were given up and returns them.
func (d *letters) wait(t *testing.T, n int) ([]string, []error) {
	t.Helper()
	natstest.WaitFor(t, 10*time.Second, func() error {
		d.mu.Lock()
		defer d.mu.Unlock()
		if len(d.data) != n {
			return fmt.Errorf("%d messages given up, want %d", len(d.data), n)
		}
		return nil
	})
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.data...), append([]error(nil), d.causes...)
}

func TestHandlesEveryMessageOnce(t *testing.T) {
	js, _, _ := setup(t)
	var s seen
	_, stop := start(t, js, consume.Config{Workers: 8}, s.handle)
	publish(t, js, 500, 0)
	s.wait(t, 500, 10*time.Second)
	stop()
	for k, n := range s.m {
		if n != 1 {
			t.Errorf("message %s handled %d times, want 1", k, n)
		}
	}
	if got := pending(t, js); got != 0 {
		t.Errorf("work queue holds %d messages after acks, want 0", got)
	}
}

func TestKeyKeepsOrder(t *testing.T) {
	js, _, _ := setup(t)
	var mu sync.Mutex
	var got []int
	_, stop := start(t, js, consume.Config{Workers: 8, Key: func(jetstream.Msg) string { return "one chat" }}, func(_ context.Context, m jetstream.Msg) error {
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
			t.Fatalf("message %d handled at position %d: same-key order not kept", n, i)
		}
	}
}

// TestGivesUp: a Permanent error is given up at once, any other error on
// the last allowed delivery; DeadLetter gets the handler's error (unwrapped
// from Permanent) and the message is terminated.
func TestGivesUp(t *testing.T) {
	bad := errors.New("three is bad")
	tests := []struct {
		name    string
		cfg     consume.Config
		err     error // the handler's error for message "3"
		handled int   // how often "3" is handled
	}{
		{"Permanent", consume.Config{}, consume.Permanent(bad), 1},
		{"MaxDeliver", consume.Config{MaxDeliver: 3, NakBase: time.Millisecond, NakMax: 5 * time.Millisecond}, bad, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			js, _, _ := setup(t)
			var s seen
			var dl letters
			cfg := tt.cfg
			cfg.Workers, cfg.DeadLetter = 2, dl.hook
			start(t, js, cfg, func(_ context.Context, m jetstream.Msg) error {
				s.add(string(m.Data()))
				if string(m.Data()) == "3" {
					return tt.err
				}
				return nil
			})
			publish(t, js, 5, 0)
			data, causes := dl.wait(t, 1)
			if data[0] != "3" || causes[0] != bad {
				t.Errorf("given up %q with cause %#v, want %q with the handler's error unwrapped", data[0], causes[0], "3")
			}
			waitSettled(t, js)
			if n := s.add("3") - 1; n != tt.handled {
				t.Errorf("handled %d times, want %d", n, tt.handled)
			}
		})
	}
}

// TestDeadLetterFailureRedelivers: a message whose dead letter could not
// be stored is not lost: it comes again and is given up once storing works.
func TestDeadLetterFailureRedelivers(t *testing.T) {
	js, _, _ := setup(t)
	var dl letters
	var failures atomic.Int64
	hook := func(ctx context.Context, m jetstream.Msg, cause error) error {
		if failures.Add(1) <= 2 {
			return errors.New("dlq unavailable")
		}
		return dl.hook(ctx, m, cause)
	}
	start(t, js, consume.Config{Workers: 1, NakMax: 10 * time.Millisecond, DeadLetter: hook}, func(context.Context, jetstream.Msg) error {
		return consume.Permanent(errors.New("bad"))
	})
	publish(t, js, 1, 0)
	if data, _ := dl.wait(t, 1); data[0] != "0" {
		t.Errorf("given up %q, want %q", data[0], "0")
	}
	waitSettled(t, js)
}

func TestTransientErrorRecovers(t *testing.T) {
	js, _, _ := setup(t)
	var s seen
	var dl letters
	start(t, js, consume.Config{Workers: 2, NakBase: time.Millisecond, DeadLetter: dl.hook}, func(_ context.Context, m jetstream.Msg) error {
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
	waitSettled(t, js)
	dl.wait(t, 0)
}

func TestPanicIsContained(t *testing.T) {
	js, _, _ := setup(t)
	var s seen
	var dl letters
	var panics atomic.Int64
	start(t, js, consume.Config{Workers: 1, PermanentPanics: true, DeadLetter: dl.hook,
		Hooks: consume.Hooks{Panicked: func(any) { panics.Add(1) }}},
		func(_ context.Context, m jetstream.Msg) error {
			if string(m.Data()) == "1" {
				panic("boom")
			}
			s.add(string(m.Data()))
			return nil
		})
	publish(t, js, 3, 0)
	s.wait(t, 2, 10*time.Second)
	data, causes := dl.wait(t, 1)
	if data[0] != "1" {
		t.Errorf("given up %q, want the panicking message", data[0])
	}
	if !strings.Contains(causes[0].Error(), "panicked: boom") {
		t.Errorf("cause = %v, want the panic", causes[0])
	}
	if n := panics.Load(); n != 1 {
		t.Errorf("Panicked called %d times, want 1 (given up at once)", n)
	}
}

// TestPanicRetriedByDefault: without PermanentPanics a panic is an error
// like any other: retried, and given up at MaxDeliver.
func TestPanicRetriedByDefault(t *testing.T) {
	js, _, _ := setup(t)
	var dl letters
	var panics atomic.Int64
	start(t, js, consume.Config{Workers: 1, MaxDeliver: 2, NakBase: time.Millisecond, DeadLetter: dl.hook,
		Hooks: consume.Hooks{Panicked: func(any) { panics.Add(1) }}},
		func(context.Context, jetstream.Msg) error { panic("boom") })
	publish(t, js, 1, 0)
	dl.wait(t, 1)
	if n := panics.Load(); n != 2 {
		t.Errorf("Panicked called %d times, want 2 (MaxDeliver)", n)
	}
}

func TestRecreatesDeletedConsumer(t *testing.T) {
	js, _, _ := setup(t)
	var s seen
	l, _ := start(t, js, consume.Config{Workers: 4, Heartbeat: 500 * time.Millisecond}, s.handle)
	natstest.WaitFor(t, 5*time.Second, l.Ready)
	publish(t, js, 10, 0)
	s.wait(t, 10, 5*time.Second)
	if err := js.DeleteConsumer(t.Context(), stream, durable); err != nil {
		t.Fatal(err)
	}
	publish(t, js, 10, 10)
	s.wait(t, 20, 15*time.Second)
}

func TestSurvivesServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a server")
	}
	js, nc, n := setup(t)
	var s seen
	l, _ := start(t, js, consume.Config{Workers: 4, Heartbeat: 500 * time.Millisecond,
		Ensure: func(ctx context.Context) error { return ensure(ctx, js) }}, s.handle)
	natstest.WaitFor(t, 5*time.Second, l.Ready)
	publish(t, js, 10, 0)
	s.wait(t, 10, 5*time.Second)
	n.Restart(t)
	natstest.WaitFor(t, 10*time.Second, func() error {
		if !nc.IsConnected() {
			return errors.New("client not reconnected")
		}
		return nil
	})
	natstest.WaitFor(t, 10*time.Second, func() error {
		_, err := js.Publish(t.Context(), subject, []byte("after"))
		return err
	})
	s.wait(t, 11, 20*time.Second)
}

func TestShutdownFinishesInFlight(t *testing.T) {
	js, _, _ := setup(t)
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
	waitSettled(t, js)
}

// TestQueuedMessagesOutliveAckWait: a message waiting behind a slow one
// with the same key must not be redelivered (to this or another replica) when
// its ack wait runs out in the queue: it is handled exactly once.
func TestQueuedMessagesOutliveAckWait(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out several ack waits")
	}
	js, _, _ := setup(t)
	var s seen
	release := make(chan struct{})
	h := func(_ context.Context, m jetstream.Msg) error {
		if string(m.Data()) == "0" {
			<-release // a slow send: longer than the ack wait
		}
		s.add(string(m.Data()))
		return nil
	}
	cfg := consume.Config{Workers: 2, AckWait: 300 * time.Millisecond, Key: func(jetstream.Msg) string { return "one chat" }}
	start(t, js, cfg, h)
	start(t, js, cfg, h) // a second replica that would take redeliveries
	publish(t, js, 5, 0)
	// Hold the first message for several ack waits, then let it go.
	time.AfterFunc(1500*time.Millisecond, func() { close(release) })
	s.wait(t, 5, 10*time.Second)
	waitSettled(t, js)
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, n := range s.m {
		if n != 1 {
			t.Errorf("message %s handled %d times, want 1", k, n)
		}
	}
}

// TestMetadataIsTheDeliverys: a handler reads its message's metadata from
// its context, the same as Msg.Metadata, on the first attempt and on an
// in-order retry, with other messages handled in parallel; outside a
// handler there is none.
func TestMetadataIsTheDeliverys(t *testing.T) {
	js, _, _ := setup(t)
	if consume.Metadata(t.Context()) != nil {
		t.Fatal("Metadata outside a handler is not nil")
	}
	const n = 40
	var mu sync.Mutex
	calls := map[uint64][]uint64{} // stream sequence -> the attempts seen
	_, stop := start(t, js, consume.Config{Workers: 8, NakBase: time.Millisecond, NakMax: time.Millisecond,
		Key: func(m jetstream.Msg) string { return string(m.Data()) }}, func(ctx context.Context, m jetstream.Msg) error {
		time.Sleep(time.Millisecond) // let the others overlap
		md := consume.Metadata(ctx)
		want, err := m.Metadata()
		if md == nil || err != nil {
			t.Errorf("Metadata = %v (Msg.Metadata error %v)", md, err)
			return nil
		}
		if md.Sequence != want.Sequence || !md.Timestamp.Equal(want.Timestamp) || md.Stream != want.Stream || md.Consumer != want.Consumer {
			t.Errorf("Metadata = %+v, Msg.Metadata = %+v", *md, *want)
		}
		mu.Lock()
		calls[want.Sequence.Stream] = append(calls[want.Sequence.Stream], consume.Attempt(ctx))
		mu.Unlock()
		if consume.Attempt(ctx) == 1 {
			return errors.New("once more")
		}
		return nil
	})
	defer stop()
	publish(t, js, n, 0)
	waitSettled(t, js)
	mu.Lock()
	defer mu.Unlock()
	for seq := uint64(1); seq <= n; seq++ {
		if got := calls[seq]; len(got) != 2 || got[0] != 1 || got[1] != 2 {
			t.Errorf("message %d: attempts %v, want [1 2]", seq, got)
		}
	}
}
