package consume_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/pkg/backoff"
	"github.com/relaybus/relaybus/pkg/consume"
	"github.com/relaybus/relaybus/pkg/natstest"
)

// retryLog passes records on to next and sends the retry_in of every
// "consumer lost" record to retries.
type retryLog struct {
	next    slog.Handler
	retries chan time.Duration
}

func (h retryLog) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h retryLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "consumer lost, re-creating" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "retry_in" {
				h.retries <- a.Value.Duration()
			}
			return true
		})
	}
	return h.next.Handle(ctx, r)
}

func (h retryLog) WithAttrs(as []slog.Attr) slog.Handler {
	return retryLog{h.next.WithAttrs(as), h.retries}
}

func (h retryLog) WithGroup(g string) slog.Handler { return retryLog{h.next.WithGroup(g), h.retries} }

// TestBackoffStartsOverAfterStablePeriod loses the consumer right after
// each re-creation, so that the re-create delay doubles, then keeps it for
// longer than StableAfter: the next loss is retried after the minimum
// delay again, not after the doubled one. Each delay is reported through
// the log and the Lost hook alike, shortened by up to backoff.Jitter.
func TestBackoffStartsOverAfterStablePeriod(t *testing.T) {
	js, _, _ := setup(t)
	retries := make(chan time.Duration, 16)
	hooked := make(chan time.Duration, 16)
	log := slog.New(retryLog{natstest.Logger(t).Handler(), retries})
	const stableAfter = 3 * time.Second
	l, _ := start(t, js, consume.Config{Workers: 1, Heartbeat: 500 * time.Millisecond, StableAfter: stableAfter, Log: log,
		Hooks: consume.Hooks{Lost: func(_ error, d time.Duration) { hooked <- d }}},
		func(context.Context, jetstream.Msg) error { return nil })

	// pulling waits until the loop pulls from its consumer (deleted before
	// the first pull, it would be noticed only by the missing heartbeat).
	pulling := func() {
		t.Helper()
		natstest.WaitFor(t, 10*time.Second, func() error {
			if err := l.Ready(); err != nil {
				return err
			}
			cons, err := js.Consumer(t.Context(), stream, durable)
			if err != nil {
				return err
			}
			if cons.CachedInfo().NumWaiting == 0 {
				return errors.New("no pull waiting")
			}
			return nil
		})
	}
	lose := func() time.Duration {
		t.Helper()
		pulling()
		if err := js.DeleteConsumer(t.Context(), stream, durable); err != nil {
			t.Fatal(err)
		}
		select {
		case d := <-retries:
			if h := <-hooked; h != d {
				t.Errorf("Lost hook got retry %v, the log %v", h, d)
			}
			return d
		case <-time.After(10 * time.Second):
			t.Fatal("consumer loss not noticed")
			return 0
		}
	}
	want := 100 * time.Millisecond
	for range 4 {
		if got := lose(); !step(got, want) {
			t.Fatalf("retry after a quick loss = %v, want %v less up to %v%% jitter (doubling)", got, want, backoff.Jitter*100)
		}
		want *= 2
	}
	pulling()
	time.Sleep(stableAfter + 300*time.Millisecond)
	if got := lose(); !step(got, 100*time.Millisecond) {
		t.Errorf("retry after %v live = %v, want the minimum 100ms (less jitter) again", stableAfter, got)
	}
	if got := lose(); !step(got, 200*time.Millisecond) {
		t.Errorf("retry after the next quick loss = %v, want 200ms (less jitter)", got)
	}
}

// step reports whether d is the ladder step want, shortened by at most
// backoff.Jitter (the steps' ranges do not overlap).
func step(d, want time.Duration) bool {
	return d <= want && d >= want-time.Duration(float64(want)*backoff.Jitter)
}
