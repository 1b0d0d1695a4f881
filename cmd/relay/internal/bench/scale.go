package bench

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/relaybus/relaybus/cmd/relay/internal/stack"
	"github.com/relaybus/relaybus/services/egress/egress"
	"github.com/relaybus/relaybus/services/passthrough-converter/converter"
)

// holders are the replicas of one stage: each reports the partitions it
// holds.
type holders struct {
	converters, egresses []func() []int
}

// startReplicas starts extra converter and egress replicas in this process
// against the pipeline's server, each with its own connection, as separate
// processes would. stop cancels them and waits for them.
func startReplicas(ctx context.Context, p *stack.Stack, st stack.Stages, converters, egresses int) (stop func(), h holders, err error) {
	h.converters = append(h.converters, p.Converter.Partitions)
	h.egresses = append(h.egresses, p.Egress.Partitions)
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	stop = func() {
		cancel()
		wg.Wait()
	}
	// replica is one stage Service: it runs, and reports its partitions.
	type replica interface {
		Run(context.Context) error
		Partitions() []int
	}
	add := func(name string, n int, to *[]func() []int, build func(*nats.Conn) (replica, error)) error {
		for i := range n {
			// Under the stage's profile label, as the stack's own replica.
			var nc *nats.Conn
			var err error
			labelled(name, func() { nc, err = p.Connect(fmt.Sprintf("bench-%s-%d", name, i+2)) })
			if err != nil {
				return err
			}
			r, err := build(nc)
			if err != nil {
				nc.Close()
				return err
			}
			*to = append(*to, r.Partitions)
			wg.Add(1)
			labelled(name, func() {
				go func() {
					defer wg.Done()
					_ = r.Run(rctx)
				}()
			})
		}
		return nil
	}
	quiet := slog.New(slog.DiscardHandler)
	err = add("converter", converters, &h.converters, func(nc *nats.Conn) (replica, error) {
		return converter.New(st.Converter, converter.Deps{NC: nc, Log: quiet})
	})
	if err == nil {
		err = add("egress", egresses, &h.egresses, func(nc *nats.Conn) (replica, error) {
			return egress.New(st.Egress, egress.Deps{NC: nc, Log: quiet})
		})
	}
	if err != nil {
		stop()
		return nil, h, err
	}
	return stop, h, nil
}

// balanced reports whether no replica holds more than its share.
func balanced(reps []func() []int, partitions int) bool {
	share := (partitions + len(reps) - 1) / len(reps)
	return !slices.ContainsFunc(reps, func(held func() []int) bool { return len(held()) > share })
}

// spread pushes batches of work (push sends one and waits for it) until
// no replica of the stage holds more than its share of the partitions, so
// that the measured run starts balanced (partitions are pinned by the
// first messages and rebalanced every few seconds).
func spread(push func() error, reps []func() []int, partitions int) error {
	if partitions == 0 || len(reps) < 2 {
		return nil
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if err := push(); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
		if balanced(reps, partitions) {
			return nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("warm-up: the partitions did not spread over %d replicas within 60s", len(reps))
}
