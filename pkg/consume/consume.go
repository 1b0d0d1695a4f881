// Package consume runs a self-healing, concurrent JetStream pull consumer:
// the one consume loop of relaybus. Every stage reads its input stream
// through it (internal/consume adds the stage's dead letters and metrics),
// and the agent client's Run reads an agent's events through it.
//
// Properties:
//   - The durable consumer is created (or updated) at start and re-created
//     after a deleted consumer or stream, or a server restart; the Ensure
//     hook re-creates streams first. Attempts back off from 100 ms to 5 s
//     with jitter (package backoff); a consumer that stayed live for
//     StableAfter starts the backoff over. A missed pull heartbeat
//     re-creates the consumer only when the server says it is gone
//     (jetstream.ErrConsumerNotFound). An existing consumer keeps where it
//     starts (its deliver policy); the rest follows the Config.
//   - Messages are handled by a fixed pool of workers, so the loop is not
//     bound to one round trip per message. A Key function keeps messages
//     with the same key in order on one worker.
//   - A message is acked only after its handler returned nil (the handler
//     publishes its output synchronously first). A handler error naks with
//     a delay that doubles with the delivery count; a Permanent error, or
//     the last allowed delivery, gives the message up: it is handed to the
//     DeadLetter hook, then terminated. A panicking handler is recovered.
//   - Messages in hand (queued behind their key or running) are kept alive
//     with InProgress, so that they are not redelivered while still being
//     worked on; a redelivery that arrives anyway is dropped.
//   - On shutdown no new messages are taken (those already pulled are
//     handed back at once); in-flight handlers finish (their context lives
//     on for Grace) and are acked, then Run returns.
package consume

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/pkg/backoff"
)

// ErrInvalidConfig classifies configuration errors.
var ErrInvalidConfig = errors.New("consume: invalid config")

// Handler processes one message. Return nil to ack it; an error to retry
// it later (nak with delay); Permanent(err) to give it up now. A handler
// may also settle the message itself (ack, term); the loop then leaves it
// alone.
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

// Outcome is how a message left the loop; the values are metric labels.
type Outcome string

// The outcomes.
const (
	// Acked: the handler succeeded.
	Acked Outcome = "acked"
	// Retried: the handler failed; the message comes again after a delay.
	Retried Outcome = "retried"
	// DeadLettered: given up (Permanent, a contained panic or the last
	// delivery), handed to DeadLetter and terminated.
	DeadLettered Outcome = "dead_lettered"
	// DeadLetterFailed: DeadLetter failed; the message comes again.
	DeadLetterFailed Outcome = "dlq_failed"
	// DuplicateDelivery: a redelivery of a message still in hand, dropped.
	DuplicateDelivery Outcome = "duplicate_delivery"
	// HandedBack: pulled while shutting down, handed back at once (nak).
	HandedBack Outcome = "handed_back"
)

// Hooks observe the loop (for metrics). Each may be nil; they are called
// from several goroutines at once and must not block.
type Hooks struct {
	// Settled is called once per message the loop settles or drops.
	Settled func(Outcome)
	// Handled is called with the time each handler call took.
	Handled func(time.Duration)
	// Lost is called when the consumer was lost (or could not be
	// created), with the cause and the delay before the next attempt.
	Lost func(err error, retryIn time.Duration)
	// Panicked is called with the value of each recovered handler panic.
	Panicked func(recovered any)
}

// orDefault sets *p to def when it is zero or negative.
func orDefault[T int | time.Duration](p *T, def T) {
	if *p <= 0 {
		*p = def
	}
}

// Config configures a consume loop. Stream and Durable are required.
type Config struct {
	Stream         string
	Durable        string
	FilterSubjects []string
	// DeliverPolicy is where a new durable consumer starts (default
	// jetstream.DeliverAllPolicy); an existing one keeps its own.
	DeliverPolicy jetstream.DeliverPolicy
	// Workers is the number of concurrent handlers (default 64).
	Workers int
	// AckWait is the consumer's ack wait (default 30 s).
	AckWait time.Duration
	// MaxDeliver bounds deliveries before the message is given up (default
	// 5; -1 means unlimited, for handlers that enforce their own deadline).
	MaxDeliver int
	// NakBase and NakMax shape the growing redelivery delay (defaults
	// 250 ms and 30 s): base * 2^(deliveries-1), capped (backoff.Delay).
	NakBase, NakMax time.Duration
	// Batch is how many messages one pull asks for (default 2*Workers).
	Batch int
	// MaxAckPending bounds the messages the server lets the durable have in
	// hand (default 8*Batch).
	MaxAckPending int
	// Heartbeat is the pull heartbeat (default 5 s); a missed one re-creates
	// the consumer when the server says it is gone.
	Heartbeat time.Duration
	// Grace bounds how long in-flight handlers may run after shutdown
	// started (default 10 s); then their context is canceled.
	Grace time.Duration
	// StableAfter is how long a consumer must stay live for its loss to
	// count as a new incident: the re-create backoff starts over from its
	// minimum instead of going on from where the last loss left it
	// (default 30 s).
	StableAfter time.Duration
	// Key, when set, routes messages with the same key to the same worker,
	// in order.
	Key func(jetstream.Msg) string
	// Ensure, when set, is called before (re-)creating the consumer, to
	// re-create missing streams.
	Ensure func(ctx context.Context) error
	// DeadLetter, when set, is handed every message given up on, with the
	// cause (Permanent unwrapped), before the message is terminated. An
	// error leaves the message to be redelivered (after NakMax) rather than
	// lost.
	DeadLetter func(ctx context.Context, msg jetstream.Msg, cause error) error
	// PermanentPanics gives a message whose handler panicked up at once
	// (a stage: the same payload would panic again); otherwise the panic
	// is retried like any error (an agent's turn).
	PermanentPanics bool
	// StopOnRefusal makes Run return the error when the server refuses the
	// consumer's configuration outright (API error 400, a bad filter),
	// instead of retrying it.
	StopOnRefusal bool
	// Log receives the loop's own log lines (nil: none).
	Log   *slog.Logger
	Hooks Hooks
}

func (c *Config) defaults() error {
	if c.Stream == "" || c.Durable == "" {
		return fmt.Errorf("%w: Stream and Durable are required", ErrInvalidConfig)
	}
	orDefault(&c.Workers, 64)
	orDefault(&c.AckWait, 30*time.Second)
	if c.MaxDeliver == 0 {
		c.MaxDeliver = 5
	}
	orDefault(&c.NakBase, 250*time.Millisecond)
	orDefault(&c.NakMax, 30*time.Second)
	orDefault(&c.Batch, 2*c.Workers)
	orDefault(&c.MaxAckPending, 8*c.Batch)
	orDefault(&c.Heartbeat, 5*time.Second)
	orDefault(&c.Grace, 10*time.Second)
	orDefault(&c.StableAfter, 30*time.Second)
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	h := &c.Hooks
	if h.Settled == nil {
		h.Settled = func(Outcome) {}
	}
	if h.Handled == nil {
		h.Handled = func(time.Duration) {}
	}
	if h.Lost == nil {
		h.Lost = func(error, time.Duration) {}
	}
	if h.Panicked == nil {
		h.Panicked = func(any) {}
	}
	return nil
}

// Loop is a configured consume loop.
type Loop struct {
	cfg    Config
	js     jetstream.JetStream
	handle Handler
	seed   maphash.Seed

	mu    sync.Mutex
	ready bool
}

// New validates cfg and returns a loop; Run starts it.
func New(js jetstream.JetStream, cfg Config, h Handler) (*Loop, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	return &Loop{cfg: cfg, js: js, handle: h, seed: maphash.MakeSeed()}, nil
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

// ConsumerConfig returns the configuration of a new durable consumer.
func (l *Loop) ConsumerConfig() jetstream.ConsumerConfig {
	cc := jetstream.ConsumerConfig{
		Durable:       l.cfg.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       l.cfg.AckWait,
		MaxDeliver:    l.cfg.MaxDeliver,
		MaxAckPending: l.cfg.MaxAckPending,
		DeliverPolicy: l.cfg.DeliverPolicy,
	}
	if len(l.cfg.FilterSubjects) == 1 {
		cc.FilterSubject = l.cfg.FilterSubjects[0]
	} else if len(l.cfg.FilterSubjects) > 1 {
		cc.FilterSubjects = l.cfg.FilterSubjects
	}
	return cc
}

// worker returns the worker of key among n.
func (l *Loop) worker(key string, n int) int {
	return int(maphash.String(l.seed, key) % uint64(n))
}

// Run consumes until ctx is done, then drains in-flight work and returns
// nil. Losing the consumer (or failing to create it) is logged and retried
// with backoff, never fatal (but see StopOnRefusal): the loop heals when
// NATS does.
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
	pending := l.cfg.MaxAckPending
	chans := make([]chan jetstream.Msg, l.cfg.Workers)
	shared := make(chan jetstream.Msg, pending)
	for i := range chans {
		ch := shared
		if l.cfg.Key != nil {
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
		if l.cfg.Key != nil {
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
			l.cfg.Hooks.Settled(DuplicateDelivery)
			return
		}
		if l.cfg.Key == nil {
			shared <- m
			return
		}
		chans[l.worker(l.cfg.Key(m), len(chans))] <- m
	}

	ladder := backoff.New(minRetry, maxRetry, nil)
	for ctx.Err() == nil {
		live, err := l.consumeOnce(ctx, dispatch)
		l.setReady(false)
		if ctx.Err() != nil {
			return nil
		}
		var apiErr *jetstream.APIError
		if l.cfg.StopOnRefusal && errors.As(err, &apiErr) && apiErr.Code == 400 {
			return fmt.Errorf("consume: consumer %s refused: %w", l.cfg.Durable, err)
		}
		if live >= l.cfg.StableAfter {
			// Healthy for a while: a new incident, not the next failure of
			// the last one.
			ladder.Reset()
		}
		retryIn := ladder.Next()
		l.cfg.Hooks.Lost(err, retryIn)
		l.cfg.Log.Warn("consumer lost, re-creating", "stream", l.cfg.Stream, "consumer", l.cfg.Durable, "err", err, "retry_in", retryIn)
		if !backoff.Sleep(ctx, retryIn) {
			return nil
		}
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
	cc := l.ConsumerConfig()
	if have, err := l.js.Consumer(cctx, l.cfg.Stream, l.cfg.Durable); err == nil {
		// Where an existing consumer starts cannot change (and must not:
		// it keeps its position); the rest follows the Config.
		old := have.CachedInfo().Config
		cc.DeliverPolicy, cc.OptStartSeq, cc.OptStartTime = old.DeliverPolicy, old.OptStartSeq, old.OptStartTime
	}
	cons, err := l.js.CreateOrUpdateConsumer(cctx, l.cfg.Stream, cc)
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
			l.cfg.Hooks.Settled(HandedBack)
			continue
		}
		dispatch(m)
	}
}

// outstanding tracks the messages this loop has dispatched and not yet
// settled (queued behind a key or running), by stream sequence, so that
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
	l.cfg.Hooks.Handled(time.Since(start))
	if err == nil {
		if aerr := m.Ack(); aerr != nil && !errors.Is(aerr, jetstream.ErrMsgAlreadyAckd) {
			l.cfg.Log.Warn("ack failed", "subject", m.Subject(), "err", aerr)
		}
		l.cfg.Hooks.Settled(Acked)
		return
	}
	md, _ := m.Metadata()
	var delivered uint64 = 1
	if md != nil {
		delivered = md.NumDelivered
	}
	last := l.cfg.MaxDeliver > 0 && delivered >= uint64(l.cfg.MaxDeliver)
	if IsPermanent(err) || last {
		l.giveUp(ctx, m, err)
		return
	}
	delay := backoff.Delay(l.cfg.NakBase, l.cfg.NakMax, int(min(delivered-1, 62)))
	l.cfg.Hooks.Settled(Retried)
	l.cfg.Log.Debug("handler failed, retrying", "subject", m.Subject(), "delivered", delivered, "retry_in", delay, "err", err)
	if nerr := m.NakWithDelay(delay); nerr != nil && !errors.Is(nerr, jetstream.ErrMsgAlreadyAckd) {
		l.cfg.Log.Warn("nak failed", "subject", m.Subject(), "err", nerr)
	}
}

// safeHandle runs the handler, turning a panic into an error (a Permanent
// one with PermanentPanics) so that no payload can take the process down.
func (l *Loop) safeHandle(ctx context.Context, m jetstream.Msg) (err error) {
	defer func() {
		if r := recover(); r != nil {
			l.cfg.Hooks.Panicked(r)
			err = fmt.Errorf("consume: handler panicked: %v", r)
			if l.cfg.PermanentPanics {
				err = Permanent(err)
			}
		}
	}()
	return l.handle(ctx, m)
}

// giveUp hands m to DeadLetter and terminates it.
func (l *Loop) giveUp(ctx context.Context, m jetstream.Msg, cause error) {
	var inner permanentError
	if errors.As(cause, &inner) {
		cause = inner.err
	}
	if l.cfg.DeadLetter != nil {
		if err := l.cfg.DeadLetter(ctx, m, cause); err != nil {
			// Not stored: leave the message to be redelivered rather than lose it.
			l.cfg.Log.Error("dead-letter failed, will retry", "subject", m.Subject(), "err", err)
			_ = m.NakWithDelay(l.cfg.NakMax)
			l.cfg.Hooks.Settled(DeadLetterFailed)
			return
		}
	}
	if err := m.Term(); err != nil && !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
		l.cfg.Log.Warn("term failed", "subject", m.Subject(), "err", err)
	}
	l.cfg.Hooks.Settled(DeadLettered)
}
