// Package consume runs a self-healing, concurrent JetStream pull consumer:
// the loop every relaybus stage uses to read its input stream.
//
// Properties:
//   - The durable consumer is created (or updated) at start and re-created
//     after a deleted consumer or stream, or a server restart; the Ensure
//     hook re-creates streams first. Attempts back off from 100 ms to 5 s;
//     a consumer that stayed live for StableAfter starts the backoff over.
//     A missed pull heartbeat re-creates the consumer only when the server
//     says it is gone (jetstream.ErrConsumerNotFound).
//   - Messages are handled by a fixed pool of workers, so the stage is not
//     bound to one round trip per message. A Shard function keeps messages
//     with the same shard in order on one worker.
//   - A message is acked only after its handler returned nil (the handler
//     publishes its output synchronously first). A handler error naks with
//     a delay that grows with the delivery count; a Permanent error, or the
//     last allowed delivery, dead-letters the message with its reason and
//     terminates it.
//   - On shutdown no new messages are fetched; in-flight handlers finish
//     (bounded by Grace) and are acked, then Run returns.
package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/pkg/events"
)

// ErrInvalidConfig classifies configuration errors.
var ErrInvalidConfig = errors.New("consume: invalid config")

// Handler processes one message. Return nil to ack it; an error to retry
// it later (nak with delay); Permanent(err) to dead-letter it now. A
// handler may also settle the message itself (ack, term); the loop then
// leaves it alone.
type Handler func(ctx context.Context, msg jetstream.Msg) error

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as not retryable.
func Permanent(err error) error { return permanentError{err} }

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// Config configures a consume loop.
type Config struct {
	Stream         string
	Durable        string
	FilterSubjects []string
	// Stage names the dead-letter subject relay.dlq.<stage>.
	Stage string
	// Workers is the number of concurrent handlers (default 64).
	Workers int
	// AckWait is the consumer's ack wait (default 30 s).
	AckWait time.Duration
	// MaxDeliver bounds deliveries before dead-lettering (default 5; -1
	// means unlimited, for handlers that enforce their own deadline).
	MaxDeliver int
	// NakBase and NakMax shape the growing redelivery delay (defaults
	// 250 ms and 30 s): base * 2^(deliveries-1), capped.
	NakBase, NakMax time.Duration
	// Batch is how many messages one pull asks for (default 2*Workers).
	Batch int
	// Heartbeat is the pull heartbeat (default 5 s); a missed one re-creates
	// the consumer.
	Heartbeat time.Duration
	// Grace bounds how long in-flight handlers may run after shutdown
	// started (default 10 s).
	Grace time.Duration
	// StableAfter is how long a consumer must stay live for its loss to
	// count as a new incident: the re-create backoff starts over from its
	// minimum instead of going on from where the last loss left it
	// (default 30 s).
	StableAfter time.Duration
	// Shard, when set, routes messages with the same value to the same
	// worker, in order.
	Shard func(jetstream.Msg) uint64
	// Ensure, when set, is called before (re-)creating the consumer, to
	// re-create missing streams.
	Ensure func(ctx context.Context) error
	Log    *slog.Logger
	// Registerer receives the loop's metrics (nil: not registered).
	Registerer prometheus.Registerer
}

func (c *Config) defaults() error {
	if c.Stream == "" || c.Durable == "" || c.Stage == "" {
		return fmt.Errorf("%w: Stream, Durable and Stage are required", ErrInvalidConfig)
	}
	if c.Workers <= 0 {
		c.Workers = 64
	}
	if c.AckWait <= 0 {
		c.AckWait = 30 * time.Second
	}
	if c.MaxDeliver == 0 {
		c.MaxDeliver = 5
	}
	if c.NakBase <= 0 {
		c.NakBase = 250 * time.Millisecond
	}
	if c.NakMax <= 0 {
		c.NakMax = 30 * time.Second
	}
	if c.Batch <= 0 {
		c.Batch = 2 * c.Workers
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 5 * time.Second
	}
	if c.Grace <= 0 {
		c.Grace = 10 * time.Second
	}
	if c.StableAfter <= 0 {
		c.StableAfter = 30 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Loop is a configured consume loop.
type Loop struct {
	cfg     Config
	js      jetstream.JetStream
	handle  Handler
	metrics *metrics

	mu    sync.Mutex
	ready bool
}

// New validates cfg and returns a loop; Run starts it.
func New(js jetstream.JetStream, cfg Config, h Handler) (*Loop, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer, cfg.Stage)
	if err != nil {
		return nil, err
	}
	return &Loop{cfg: cfg, js: js, handle: h, metrics: m}, nil
}

// Ready reports whether the loop currently has a live consumer.
func (l *Loop) Ready() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.ready {
		return fmt.Errorf("consumer %s/%s not running", l.cfg.Stream, l.cfg.Durable)
	}
	return nil
}

func (l *Loop) setReady(v bool) {
	l.mu.Lock()
	l.ready = v
	l.mu.Unlock()
}

// ConsumerConfig returns the durable consumer's configuration.
func (l *Loop) ConsumerConfig() jetstream.ConsumerConfig {
	cc := jetstream.ConsumerConfig{
		Durable:       l.cfg.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       l.cfg.AckWait,
		MaxDeliver:    l.cfg.MaxDeliver,
		MaxAckPending: 8 * l.cfg.Batch,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	if len(l.cfg.FilterSubjects) == 1 {
		cc.FilterSubject = l.cfg.FilterSubjects[0]
	} else if len(l.cfg.FilterSubjects) > 1 {
		cc.FilterSubjects = l.cfg.FilterSubjects
	}
	return cc
}

// Run consumes until ctx is done, then drains in-flight work and returns
// nil. Losing the consumer (or failing to create it) is logged and retried
// with backoff, never fatal: the stage heals when NATS does.
func (l *Loop) Run(ctx context.Context) error {
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	stopGrace := context.AfterFunc(ctx, func() {
		t := time.NewTimer(l.cfg.Grace)
		defer t.Stop()
		select {
		case <-t.C:
			hcancel()
		case <-hctx.Done():
		}
	})
	defer stopGrace()

	// Messages in hand are kept alive until settled; the keeper stops after
	// the workers (defers run in reverse).
	out := newOutstanding()
	kctx, kcancel := context.WithCancel(context.Background())
	keeperDone := make(chan struct{})
	go func() {
		defer close(keeperDone)
		out.keepAlive(kctx, l.cfg.AckWait/3)
	}()
	defer func() {
		kcancel()
		<-keeperDone
	}()

	// Workers.
	var wg sync.WaitGroup
	// Queues hold up to the consumer's MaxAckPending, the most the server
	// lets this durable have in hand, so the dispatcher never blocks: a
	// message sits in a tracked queue (kept alive) rather than untracked in
	// the pull buffer while its ack wait runs out.
	pending := l.ConsumerConfig().MaxAckPending
	chans := make([]chan jetstream.Msg, l.cfg.Workers)
	shared := make(chan jetstream.Msg, pending)
	for i := range chans {
		ch := shared
		if l.cfg.Shard != nil {
			ch = make(chan jetstream.Msg, pending)
		}
		chans[i] = ch
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range ch {
				l.process(hctx, m)
				out.remove(m)
			}
		}()
	}
	defer func() {
		if l.cfg.Shard != nil {
			for _, ch := range chans {
				close(ch)
			}
		} else {
			close(shared)
		}
		wg.Wait()
	}()
	dispatch := func(m jetstream.Msg) {
		if !out.add(m) {
			// A redelivery of a message still queued or running here (its
			// ack wait ran out while it waited behind others): drop the copy;
			// the original settles the sequence.
			l.metrics.outcome("duplicate_delivery")
			return
		}
		if l.cfg.Shard == nil {
			shared <- m
			return
		}
		chans[l.cfg.Shard(m)%uint64(len(chans))] <- m
	}

	backoff := minRetry
	for ctx.Err() == nil {
		live, err := l.consumeOnce(ctx, dispatch)
		l.setReady(false)
		if ctx.Err() != nil {
			return nil
		}
		if live >= l.cfg.StableAfter {
			// Healthy for a while: a new incident, not the next failure of
			// the last one.
			backoff = minRetry
		}
		l.metrics.recreated.Inc()
		l.cfg.Log.Warn("consumer lost, re-creating", "stream", l.cfg.Stream, "consumer", l.cfg.Durable, "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxRetry)
	}
	return nil
}

// The re-create backoff: doubling from minRetry up to maxRetry.
const (
	minRetry = 100 * time.Millisecond
	maxRetry = 5 * time.Second
)

// consumeOnce creates the consumer and pulls from it until an error or
// cancellation. live is how long the consumer was pulled from (zero when
// it could not be created).
func (l *Loop) consumeOnce(ctx context.Context, dispatch func(jetstream.Msg)) (live time.Duration, err error) {
	if l.cfg.Ensure != nil {
		if err := l.cfg.Ensure(ctx); err != nil {
			return 0, fmt.Errorf("ensuring streams: %w", err)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	cons, err := l.js.CreateOrUpdateConsumer(cctx, l.cfg.Stream, l.ConsumerConfig())
	cancel()
	if err != nil {
		return 0, fmt.Errorf("creating consumer: %w", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(l.cfg.Batch), jetstream.PullHeartbeat(l.cfg.Heartbeat))
	if err != nil {
		return 0, fmt.Errorf("starting pull: %w", err)
	}
	// On shutdown, drain rather than stop: messages already pulled into the
	// iterator's buffer come out of Next and are handed back (nak) at once,
	// so another replica gets them now instead of after AckWait.
	stop := context.AfterFunc(ctx, it.Drain)
	defer stop()
	defer it.Stop()
	l.setReady(true)
	since := time.Now()
	for {
		m, err := it.Next()
		if err != nil {
			live = time.Since(since)
			if ctx.Err() != nil {
				return live, ctx.Err()
			}
			if errors.Is(err, jetstream.ErrNoHeartbeat) && !l.consumerGone(ctx) {
				// A slow server, a starved process or a connection being
				// re-established, not a lost consumer: the iterator pulls
				// again by itself. Re-creating it would strand the messages
				// in its buffer until their ack wait.
				l.cfg.Log.Warn("pull heartbeat missed, consumer not reported gone", "stream", l.cfg.Stream, "consumer", l.cfg.Durable)
				continue
			}
			return live, err
		}
		if ctx.Err() != nil {
			_ = m.Nak()
			l.metrics.outcome("handed_back")
			continue
		}
		dispatch(m)
	}
}

// outstanding tracks the messages this loop has dispatched and not yet
// settled (queued behind a shard or running), by stream sequence, so that
// they are kept alive (InProgress) past the ack wait instead of being
// redelivered to another replica while still in hand, and so that a
// redelivery that arrives anyway is recognised.
type outstanding struct {
	mu sync.Mutex
	m  map[uint64]jetstream.Msg
}

func newOutstanding() *outstanding { return &outstanding{m: make(map[uint64]jetstream.Msg)} }

func seqOf(m jetstream.Msg) (uint64, bool) {
	md, err := m.Metadata()
	if err != nil {
		return 0, false
	}
	return md.Sequence.Stream, true
}

// add records m; it reports false when its sequence is already in hand.
func (o *outstanding) add(m jetstream.Msg) bool {
	seq, ok := seqOf(m)
	if !ok {
		return true
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, dup := o.m[seq]; dup {
		return false
	}
	o.m[seq] = m
	return true
}

func (o *outstanding) remove(m jetstream.Msg) {
	if seq, ok := seqOf(m); ok {
		o.mu.Lock()
		delete(o.m, seq)
		o.mu.Unlock()
	}
}

// keepAlive tells the server every period that the outstanding messages
// are still being worked on, until ctx is done.
func (o *outstanding) keepAlive(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		o.mu.Lock()
		msgs := make([]jetstream.Msg, 0, len(o.m))
		for _, m := range o.m {
			msgs = append(msgs, m)
		}
		o.mu.Unlock()
		for _, m := range msgs {
			_ = m.InProgress()
		}
	}
}

// consumerGone reports whether the server says the durable consumer (or
// its stream) no longer exists. Any other lookup failure (a timeout, a
// connection being re-established) is not proof that it is gone.
func (l *Loop) consumerGone(ctx context.Context) bool {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := l.js.Consumer(cctx, l.cfg.Stream, l.cfg.Durable)
	switch {
	case err == nil:
		return false
	case errors.Is(err, jetstream.ErrConsumerNotFound), errors.Is(err, jetstream.ErrStreamNotFound):
		return true
	}
	l.cfg.Log.Warn("consumer lookup failed, keeping the pull", "stream", l.cfg.Stream, "consumer", l.cfg.Durable, "err", err)
	return false
}

func (l *Loop) process(ctx context.Context, m jetstream.Msg) {
	start := time.Now()
	err := l.safeHandle(ctx, m)
	l.metrics.duration.Observe(time.Since(start).Seconds())
	if err == nil {
		if aerr := m.Ack(); aerr != nil && !errors.Is(aerr, jetstream.ErrMsgAlreadyAckd) {
			l.cfg.Log.Warn("ack failed", "subject", m.Subject(), "err", aerr)
		}
		l.metrics.outcome("acked")
		return
	}
	md, _ := m.Metadata()
	var delivered uint64 = 1
	if md != nil {
		delivered = md.NumDelivered
	}
	last := l.cfg.MaxDeliver > 0 && delivered >= uint64(l.cfg.MaxDeliver)
	if IsPermanent(err) || last {
		l.deadLetter(ctx, m, err, delivered)
		return
	}
	delay := l.cfg.NakBase << min(delivered-1, 20)
	if delay > l.cfg.NakMax || delay <= 0 {
		delay = l.cfg.NakMax
	}
	l.metrics.outcome("retried")
	l.cfg.Log.Debug("handler failed, retrying", "subject", m.Subject(), "delivered", delivered, "retry_in", delay, "err", err)
	if nerr := m.NakWithDelay(delay); nerr != nil && !errors.Is(nerr, jetstream.ErrMsgAlreadyAckd) {
		l.cfg.Log.Warn("nak failed", "subject", m.Subject(), "err", nerr)
	}
}

// safeHandle runs the handler, turning a panic into a permanent error so
// that no payload can take the stage down.
func (l *Loop) safeHandle(ctx context.Context, m jetstream.Msg) (err error) {
	defer func() {
		if r := recover(); r != nil {
			l.metrics.panics.Inc()
			err = Permanent(&events.FrameError{Reason: "internal", Detail: fmt.Sprintf("handler panicked: %v", r)})
		}
	}()
	return l.handle(ctx, m)
}

func (l *Loop) deadLetter(ctx context.Context, m jetstream.Msg, cause error, delivered uint64) {
	var inner permanentError
	if errors.As(cause, &inner) {
		cause = inner.err
	}
	if err := bus.DeadLetter(ctx, l.js, l.cfg.Stage, m.Subject(), m.Data(), m.Headers(), bus.MsgDedupID(m), cause); err != nil {
		// Not stored: leave the message to be redelivered rather than lose it.
		l.cfg.Log.Error("dead-letter failed, will retry", "subject", m.Subject(), "err", err)
		_ = m.NakWithDelay(l.cfg.NakMax)
		l.metrics.outcome("dlq_failed")
		return
	}
	if err := m.Term(); err != nil && !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
		l.cfg.Log.Warn("term failed", "subject", m.Subject(), "err", err)
	}
	l.metrics.outcome("dead_lettered")
	l.cfg.Log.Warn("message dead-lettered", "stage", l.cfg.Stage, "subject", m.Subject(), "reason", events.Reason(cause), "delivered", delivered, "err", cause)
}

type metrics struct {
	outcomes  *prometheus.CounterVec
	duration  prometheus.Histogram
	recreated prometheus.Counter
	panics    prometheus.Counter
}

func (m *metrics) outcome(o string) { m.outcomes.WithLabelValues(o).Inc() }

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
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.outcomes, m.duration, m.recreated, m.panics} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("registering consume metrics: %w", err)
			}
		}
	}
	return m, nil
}
