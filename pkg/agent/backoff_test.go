package agent_test

import (
	"context"
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/relaybus/relaybus/pkg/agent"
	"github.com/relaybus/relaybus/pkg/backoff"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
)

// TestBackoffStartsOverAfterStablePeriod loses the agent's consumer right
// after each re-creation, so that the re-create delay doubles, then keeps
// it for longer than the stable period: the next loss is retried after the
// minimum delay again. Each delay is shortened by up to backoff.Jitter.
func TestBackoffStartsOverAfterStablePeriod(t *testing.T) {
	const stableAfter = 3 * time.Second
	t.Cleanup(agent.SetStableAfter(stableAfter))
	ns, _, js := setup(t)
	errs := make(chan error, 16)
	c, err := agent.New(natstest.Connect(t, ns), agent.Options{Name: "flaky", ErrorHandler: func(err error) { errs <- err }})
	if err != nil {
		t.Fatal(err)
	}
	runAgent(t, c, func(context.Context, *agent.Event) error { return nil })
	retryIn := regexp.MustCompile(`re-creating in (\S+):`)

	// pulling waits until the consumer exists and the agent pulls from it
	// (deleted before its first pull, it would be noticed only by the
	// missing heartbeat, seconds later).
	pulling := func() {
		t.Helper()
		natstest.WaitFor(t, 10*time.Second, func() error {
			cons, err := js.Consumer(t.Context(), events.InboundStream, "flaky")
			if err != nil {
				return err
			}
			if n := cons.CachedInfo().NumWaiting; n == 0 {
				return errors.New("no pull waiting")
			}
			return nil
		})
	}
	lose := func() time.Duration {
		t.Helper()
		pulling()
		if err := js.DeleteConsumer(t.Context(), events.InboundStream, "flaky"); err != nil {
			t.Fatal(err)
		}
		for {
			select {
			case err := <-errs:
				m := retryIn.FindStringSubmatch(err.Error())
				if m == nil {
					continue
				}
				d, perr := time.ParseDuration(m[1])
				if perr != nil {
					t.Fatalf("error %q: %v", err, perr)
				}
				return d
			case <-time.After(10 * time.Second):
				t.Fatal("consumer loss not reported")
				return 0
			}
		}
	}
	// Four quick losses double the delay; a stable period starts it over.
	const stable = 0
	for i, want := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond,
		stable, 100 * time.Millisecond, 200 * time.Millisecond} {
		if want == stable {
			pulling()
			time.Sleep(stableAfter + 300*time.Millisecond)
			continue
		}
		if got := lose(); got > want || got < want-time.Duration(float64(want)*backoff.Jitter) {
			t.Fatalf("loss %d: retry in %v, want %v less up to %v%% jitter", i+1, got, want, backoff.Jitter*100)
		}
	}
}
