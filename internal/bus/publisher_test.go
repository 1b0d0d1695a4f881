package bus_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/pkg/natstest"
)

// publisherRig is a server with stream S on s.>, a connection and a
// Publisher on it.
func publisherRig(t *testing.T, timeout time.Duration) (*nats.Conn, jetstream.JetStream, *bus.Publisher) {
	t.Helper()
	nc := natstest.Connect(t, natstest.RunServer(t))
	js := natstest.JetStream(t, nc)
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Duplicates: time.Minute}); err != nil {
		t.Fatal(err)
	}
	p, err := bus.NewPublisher(nc, timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return nc, js, p
}

func msg(subject, id string) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Data = []byte("data " + id)
	if id != "" {
		m.Header.Set(jetstream.MsgIDHeader, id)
	}
	return m
}

func TestPublisherStores(t *testing.T) {
	_, js, p := publisherRig(t, 0)
	for i, id := range []string{"a", "b", "c"} {
		seq, err := p.Publish(t.Context(), msg("s.x", id))
		if err != nil || seq != uint64(i+1) {
			t.Fatalf("publish %s = %d, %v; want %d, nil", id, seq, err, i+1)
		}
	}
	// A duplicate is stored once and reported as a success, with the
	// original's sequence.
	if seq, err := p.Publish(t.Context(), msg("s.x", "b")); err != nil || seq != 2 {
		t.Errorf("duplicate b = %d, %v; want 2, nil", seq, err)
	}
	if got := natstest.WaitStored(t, js, "S", 3, 5*time.Second); len(got) != 3 {
		t.Errorf("%d stored, want 3", len(got))
	}
}

func TestPublisherErrors(t *testing.T) {
	nc, _, p := publisherRig(t, 300*time.Millisecond)
	ctx := t.Context()

	if _, err := p.Publish(ctx, msg("nostream.x", "n")); !errors.Is(err, jetstream.ErrNoStreamResponse) {
		t.Errorf("no stream: %v, want ErrNoStreamResponse", err)
	}

	// The stream refuses: the expected last sequence does not match.
	m := msg("s.y", "w")
	m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "7")
	var apiErr *jetstream.APIError
	if _, err := p.Publish(ctx, m); !errors.As(err, &apiErr) || apiErr.ErrorCode != jetstream.JSErrCodeStreamWrongLastSequence {
		t.Errorf("wrong last sequence: %v, want the stream's APIError 10071", err)
	}

	// Someone answers nothing: the publish times out.
	if _, err := nc.Subscribe("silent", func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := p.Publish(ctx, msg("silent", "")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("silent: %v, want DeadlineExceeded", err)
	} else if el := time.Since(start); el < 300*time.Millisecond {
		t.Errorf("silent failed after %v, before the timeout", el)
	}

	// The caller gives up.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.Publish(cctx, msg("silent", "")); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v, want context.Canceled", err)
	}

	// Closed: waiting publishes fail, later ones too.
	res := make(chan error, 1)
	go func() {
		_, err := p.Publish(ctx, msg("silent", ""))
		res <- err
	}()
	time.Sleep(50 * time.Millisecond)
	p.Close()
	if err := <-res; !errors.Is(err, bus.ErrPublisherClosed) {
		t.Errorf("waiting at Close: %v, want ErrPublisherClosed", err)
	}
	if _, err := p.Publish(ctx, msg("s.x", "z")); !errors.Is(err, bus.ErrPublisherClosed) {
		t.Errorf("after Close: %v, want ErrPublisherClosed", err)
	}
}

// TestPublisherConcurrent: many callers at once each get their own
// message's sequence.
func TestPublisherConcurrent(t *testing.T) {
	_, js, p := publisherRig(t, 0)
	const callers, each = 32, 50
	var mu sync.Mutex
	seqs := map[uint64]bool{}
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				seq, err := p.Publish(t.Context(), msg("s.c", string(rune('a'+c))+"-"+string(rune('a'+i%26))+string(rune('a'+i/26))))
				mu.Lock()
				if err != nil || seqs[seq] {
					t.Errorf("publish = %d, %v; want a new sequence", seq, err)
				}
				seqs[seq] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if got := natstest.WaitStored(t, js, "S", callers*each, 5*time.Second); len(got) != callers*each {
		t.Errorf("%d stored, want %d", len(got), callers*each)
	}
}

func TestPublisherRequest(t *testing.T) {
	nc, _, p := publisherRig(t, 200*time.Millisecond)
	if _, err := nc.Subscribe("echo", func(m *nats.Msg) { _ = m.Respond(append([]byte("re: "), m.Data...)) }); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Subscribe("silent", func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	r, err := p.Request(t.Context(), &nats.Msg{Subject: "echo", Data: []byte("hi")}, time.Second)
	if err != nil || string(r.Data) != "re: hi" {
		t.Errorf("echo = %v, %v; want re: hi", r, err)
	}
	if _, err := p.Request(t.Context(), &nats.Msg{Subject: "nobody"}, time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Errorf("nobody: %v, want ErrNoResponders", err)
	}
	if _, err := p.Request(t.Context(), &nats.Msg{Subject: "silent"}, 100*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("silent: %v, want DeadlineExceeded", err)
	}
}

// TestPublisherFunc: the outcome reaches the callback, for a stored
// message, a refused one, one nobody answers, and one whose context ends
// first (before the Publisher's timeout).
func TestPublisherFunc(t *testing.T) {
	nc, _, p := publisherRig(t, 200*time.Millisecond)
	if _, err := nc.Subscribe("silent", func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		seq uint64
		err error
	}
	got := make(chan outcome, 4)
	done := func(seq uint64, err error) { got <- outcome{seq, err} }
	for _, m := range []*nats.Msg{msg("s.x", "f1"), msg("nostream.x", "f2"), msg("silent", "")} {
		if err := p.PublishFunc(t.Context(), m, done); err != nil {
			t.Fatal(err)
		}
	}
	cctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(20*time.Millisecond, cancel)
	if err := p.PublishFunc(cctx, msg("silent", ""), done); err != nil {
		t.Fatal(err)
	}
	var stored, refused, silent, early int
	for range 4 {
		select {
		case o := <-got:
			switch {
			case o.err == nil && o.seq == 1:
				stored++
			case errors.Is(o.err, jetstream.ErrNoStreamResponse):
				refused++
			case errors.Is(o.err, context.Canceled):
				early++
			case errors.Is(o.err, context.DeadlineExceeded):
				silent++
			default:
				t.Errorf("unexpected outcome %+v", o)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a callback never came")
		}
	}
	if stored != 1 || refused != 1 || silent != 1 || early != 1 {
		t.Errorf("stored %d, refused %d, silent %d, ended by its context %d; want one each", stored, refused, silent, early)
	}
}
