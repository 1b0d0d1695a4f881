// Package consume is the stages' consume loop: the one loop of package
// github.com/relaybus/relaybus/pkg/consume (the agent client runs on it
// too), with what a stage adds:
//
//   - A message given up — a Permanent error, a handler panic (given up at
//     once: the same payload would panic again) or the last allowed
//     delivery — is dead-lettered on relay.dlq.<stage> by the relay's one
//     dead-letter writer (bus.DeadLetterMsg: reason headers, credentials
//     removed, values bounded), then terminated. A dead letter that cannot
//     be stored leaves the message to be redelivered. The log line shows
//     the error as stored (clipped, without credentials).
//   - Metrics, each labelled stage=<stage> (the stage token: ws-edge,
//     converter, egress): relay_consume_messages_total{outcome},
//     relay_consume_handle_seconds, relay_consume_recreated_total,
//     relay_consume_panics_total and relay_consume_partition_held{partition}.
package consume

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/pkg/consume"
	"github.com/relaybus/relaybus/pkg/events"
)

// The loop, its configuration and its handlers are package
// github.com/relaybus/relaybus/pkg/consume's.
type (
	Config  = consume.Config
	Handler = consume.Handler
	Loop    = consume.Loop
)

// ErrInvalidConfig classifies configuration errors.
var ErrInvalidConfig = consume.ErrInvalidConfig

// Permanent marks err as not retryable: its message is dead-lettered now.
func Permanent(err error) error { return consume.Permanent(err) }

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool { return consume.IsPermanent(err) }

// Attempt returns the attempt number of the message a handler is called
// for (1 the first time), counting redeliveries and in-order retries.
func Attempt(ctx context.Context) uint64 { return consume.Attempt(ctx) }

// Later defers a handler's outcome (see the consume package's Later).
func Later(ctx context.Context) func(error) { return consume.Later(ctx) }

// Metadata is consume.Metadata: the message's JetStream metadata as read
// on delivery.
func Metadata(ctx context.Context) *jetstream.MsgMetadata { return consume.Metadata(ctx) }

// New returns the consume loop of stage (its token, events.Stage*): cfg
// with the stage's dead letters and its metrics registered on reg (nil:
// not registered). cfg's DeadLetter, PermanentPanics and Hooks are set
// here.
func New(js jetstream.JetStream, stage string, reg prometheus.Registerer, cfg Config, h Handler) (*Loop, error) {
	if stage == "" {
		return nil, fmt.Errorf("%w: a stage name is required", ErrInvalidConfig)
	}
	m, err := newMetrics(reg, stage)
	if err != nil {
		return nil, err
	}
	log := cfg.Log
	cfg.PermanentPanics = true
	cfg.DeadLetter = func(ctx context.Context, msg jetstream.Msg, cause error) error {
		errText, err := bus.PublishDeadLetter(ctx, js, stage, msg.Subject(), msg.Data(), msg.Headers(), bus.MsgDedupID(msg), cause)
		if err != nil {
			return err
		}
		if log != nil {
			var delivered uint64
			if md, err := msg.Metadata(); err == nil {
				delivered = md.NumDelivered
			}
			log.Warn("message dead-lettered", "stage", stage, "subject", msg.Subject(), "reason", events.Reason(cause), "delivered", delivered, "err", errText)
		}
		return nil
	}
	cfg.Hooks = consume.Hooks{
		Settled:  func(o consume.Outcome) { m.outcomes.WithLabelValues(string(o)).Inc() },
		Handled:  func(d time.Duration) { m.duration.Observe(d.Seconds()) },
		Lost:     func(error, time.Duration) { m.recreated.Inc() },
		Panicked: func(any) { m.panics.Inc() },
		Held: func(parts []int) {
			m.held.Reset()
			for _, p := range parts {
				m.held.WithLabelValues(strconv.Itoa(p)).Set(1)
			}
		},
	}
	return consume.New(js, cfg, h)
}

type metrics struct {
	outcomes  *prometheus.CounterVec
	duration  prometheus.Histogram
	recreated prometheus.Counter
	panics    prometheus.Counter
	held      *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer, stage string) (*metrics, error) {
	cl := prometheus.Labels{"stage": stage}
	m := &metrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_consume_messages_total", Help: "Messages settled by a stage's consume loop, by outcome.", ConstLabels: cl,
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "relay_consume_handle_seconds", Help: "Time a stage's handler took per message.", ConstLabels: cl,
			Buckets: prometheus.ExponentialBuckets(0.00005, 2.5, 12),
		}),
		recreated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "relay_consume_recreated_total", Help: "Times a stage re-created its consumer after losing it.", ConstLabels: cl,
		}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "relay_consume_panics_total", Help: "Handler panics recovered (each dead-letters its message).", ConstLabels: cl,
		}),
		held: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "relay_consume_partition_held", Help: "1 for each partition of the stage's input stream this replica holds (is pinned to), as last checked.", ConstLabels: cl,
		}, []string{"partition"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.outcomes, m.duration, m.recreated, m.panics, m.held} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("registering consume metrics: %w", err)
			}
		}
	}
	return m, nil
}
