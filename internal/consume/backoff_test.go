package consume_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/consume"
	"github.com/relaybus/relaybus/pkg/events"
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
// delay again, not after the doubled one.
func TestBackoffStartsOverAfterStablePeriod(t *testing.T) {
	js, _ := setup(t)
	retries := make(chan time.Duration, 16)
	log := slog.New(retryLog{natstest.Logger(t).Handler(), retries})
	const stableAfter = 3 * time.Second
	l, _ := start(t, js, consume.Config{Workers: 1, Heartbeat: 500 * time.Millisecond, StableAfter: stableAfter, Log: log},
		func(context.Context, jetstream.Msg) error { return nil })

	// pulling waits until the loop pulls from its consumer (deleted before
	// the first pull, it would be noticed only by the missing heartbeat).
	pulling := func() {
		t.Helper()
		natstest.WaitFor(t, 10*time.Second, func() error {
			if err := l.Ready(); err != nil {
				return err
			}
			cons, err := js.Consumer(t.Context(), events.RawStream, "test")
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
		if err := js.DeleteConsumer(t.Context(), events.RawStream, "test"); err != nil {
			t.Fatal(err)
		}
		select {
		case d := <-retries:
			return d
		case <-time.After(10 * time.Second):
			t.Fatal("consumer loss not noticed")
			return 0
		}
	}
	want := 100 * time.Millisecond
	for range 4 {
		if got := lose(); got != want {
			t.Fatalf("retry after a quick loss = %v, want %v (doubling)", got, want)
		}
		want *= 2
	}
	pulling()
	time.Sleep(stableAfter + 300*time.Millisecond)
	if got := lose(); got != 100*time.Millisecond {
		t.Errorf("retry after %v live = %v, want the minimum 100ms again", stableAfter, got)
	}
	if got := lose(); got != 200*time.Millisecond {
		t.Errorf("retry after the next quick loss = %v, want 200ms", got)
	}
}
