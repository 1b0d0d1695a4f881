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
//     stores its output first), or, when the handler deferred its outcome
//     with Later, once it reported success (the output's PubAck came): the
//     worker goes on with other chats meanwhile, the chat waits. A handler
//     error naks with a delay that doubles with the delivery count; a
//     Permanent error, or
//     the last allowed delivery, gives the message up: it is handed to the
//     DeadLetter hook, then terminated. A panicking handler is recovered.
//   - Messages in hand (queued behind their key or running) are kept alive
//     with InProgress, so that they are not redelivered while still being
//     worked on; a redelivery that arrives anyway is dropped.
//   - On shutdown no new messages are taken (those already pulled are
//     handed back at once); in-flight handlers finish (their context lives
//     on for Grace) and are acked, then Run returns.
//   - A handler's context tells it which attempt this is (Attempt) and
//     the message's JetStream metadata as read on delivery (Metadata),
//     and lets it defer its outcome (Later).
package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

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
	// Held is called by the balancer with the partitions this replica
	// holds.
	Held func(partitions []int)
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
	// Key, when set, keeps messages with the same key (a chat) in stream
	// order: one at a time, a failed one retried before the next. Messages
	// of different keys run in parallel, Workers at a time. Without it (or
	// for ""), messages are not ordered.
	Key func(jetstream.Msg) string
	// Partitions, when above zero, consumes the stream as that many
	// partitions: partition p through its own durable consumer
	// (PartitionConsumer(Durable, p)) filtered on PartitionFilter(p), which
	// the server pins to one replica at a time (priority group
	// PriorityGroup). Each replica pulls from every partition; the server
	// delivers a partition only to its pinned replica, and moves the pin
	// when that replica stops pulling (PinnedTTL) or gives the partition up
	// to balance (see balance). FilterSubjects, if any, are then the
	// subjects without a partition, consumed through the Durable itself,
	// shared and unordered.
	Partitions int
	// PartitionFilter returns the filter subjects of partition p (required
	// with Partitions).
	PartitionFilter func(p int) []string
	// PartitionMaxAckPending bounds each partition consumer's messages in
	// hand (default MaxAckPending/Partitions, at least 64).
	PartitionMaxAckPending int
	// PullExpiry is how long each pull request of a partition lives
	// (default 2 s): a live replica renews its pulls at least this often,
	// and giving a partition up (or stopping) waits for the last one.
	PullExpiry time.Duration
	// PinnedTTL is how long a partition stays pinned to a replica that
	// stopped pulling (default AckWait + PullExpiry + 2 s). It must outlast
	// the ack wait of every message the replica had in hand, so that when
	// a replica dies those are redelivered before anything newer of their
	// chats reaches the next replica: per-chat order holds across failover.
	PinnedTTL time.Duration
	// BalanceEvery is how often a replica checks its share of the
	// partitions (default 5 s, jittered).
	BalanceEvery time.Duration
	// ReleaseCooldown is how long a replica stays off a partition it gave
	// up (default 2*BalanceEvery).
	ReleaseCooldown time.Duration
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
	if c.Partitions < 0 || c.Partitions > 0 && c.PartitionFilter == nil {
		return fmt.Errorf("%w: Partitions needs a PartitionFilter", ErrInvalidConfig)
	}
	orDefault(&c.PartitionMaxAckPending, max(64, c.MaxAckPending/max(c.Partitions, 1)))
	orDefault(&c.PullExpiry, 2*time.Second)
	if c.Partitions > 0 {
		// A pull heartbeat must be under half the pull's expiry, and at
		// least 500 ms (nats.go).
		c.PullExpiry = max(c.PullExpiry, 1500*time.Millisecond)
		c.Heartbeat = max(min(c.Heartbeat, c.PullExpiry*2/5), 500*time.Millisecond)
	}
	orDefault(&c.PinnedTTL, c.AckWait+c.PullExpiry+2*time.Second)
	orDefault(&c.BalanceEvery, 5*time.Second)
	orDefault(&c.ReleaseCooldown, 2*c.BalanceEvery)
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
	if h.Held == nil {
		h.Held = func([]int) {}
	}
	return nil
}

// Loop is a configured consume loop.
type Loop struct {
	cfg    Config
	js     jetstream.JetStream
	handle Handler
	id     string // this replica's member id (presence)
	// debug: the log takes debug lines (each message's hand-offs).
	debug bool
	// saturated: this replica holds its share of the partitions, and does
	// not wait on the others (balance).
	saturated atomic.Bool

	// later counts the goroutines retrying a message whose deferred
	// outcome (Later) was a failure.
	later sync.WaitGroup

	mu      sync.Mutex
	live    map[string]bool // sources with a live consumer
	sources []*source
	sched   *sched
}

// New validates cfg and returns a loop; Run starts it.
func New(js jetstream.JetStream, cfg Config, h Handler) (*Loop, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	l := &Loop{cfg: cfg, js: js, handle: h, id: nuid.Next(), live: map[string]bool{}}
	l.debug = cfg.Log.Enabled(context.Background(), slog.LevelDebug)
	l.sources = l.newSources()
	return l, nil
}

// Ready reports whether the loop currently has a live consumer on every
// source (its durable, or each partition's).
func (l *Loop) Ready() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, src := range l.sources {
		if !l.live[src.name] {
			return fmt.Errorf("consumer %s/%s not running", l.cfg.Stream, src.name)
		}
	}
	return nil
}

func (l *Loop) setLive(name string, v bool) {
	l.mu.Lock()
	l.live[name] = v
	l.mu.Unlock()
}

// ConsumerConfig returns the configuration of the loop's durable consumer
// (without partitions; with them, the consumer of the unkeyed subjects).
func (l *Loop) ConsumerConfig() jetstream.ConsumerConfig {
	return l.consumerConfig(l.cfg.Durable, l.cfg.FilterSubjects, false)
}

func (l *Loop) consumerConfig(name string, filters []string, pinned bool) jetstream.ConsumerConfig {
	cc := jetstream.ConsumerConfig{
		Durable:       name,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       l.cfg.AckWait,
		MaxDeliver:    l.cfg.MaxDeliver,
		MaxAckPending: l.cfg.MaxAckPending,
		DeliverPolicy: l.cfg.DeliverPolicy,
	}
	if len(filters) == 1 {
		cc.FilterSubject = filters[0]
	} else if len(filters) > 1 {
		cc.FilterSubjects = filters
	}
	if pinned {
		cc.MaxAckPending = l.cfg.PartitionMaxAckPending
		cc.PriorityPolicy = jetstream.PriorityPolicyPinned
		cc.PriorityGroups = []string{PriorityGroup}
		cc.PinnedTTL = l.cfg.PinnedTTL
	}
	return cc
}

// Run consumes until ctx is done, then hands back what it has not started,
// finishes what is running and returns nil. Losing a consumer (or failing
// to create it) is logged and retried with backoff, never fatal (but see
// StopOnRefusal): the loop heals when NATS does.
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

	// Workers: per chat in order, chats in parallel (sched).
	sc := newSched()
	l.mu.Lock()
	l.sched = sc
	l.mu.Unlock()
	var wg sync.WaitGroup
	for range l.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, it, ok := sc.next()
				if !ok {
					return
				}
				settle := func() {
					out.remove(it)
					l.handBack(sc, out, sc.done(c))
				}
				if l.process(hctx, sc, it, settle) {
					settle()
				}
			}
		}()
	}
	defer func() {
		sc.close()
		wg.Wait()
		l.later.Wait()
	}()

	// Sources: the durable, or one pinned durable per partition (plus the
	// unkeyed one), each re-created on its own after a loss.
	dispatch := func(src *source, m jetstream.Msg) {
		// The metadata is parsed once per delivery (nats.go parses the
		// reply subject on every call).
		it := &item{m: m, part: src.part, delivered: 1}
		if md, err := m.Metadata(); err == nil {
			it.seq, it.delivered, it.hasSeq, it.md = md.Sequence.Stream, md.NumDelivered, true, md
		}
		if !out.add(it) {
			// A redelivery of a message still queued or running here (its
			// ack wait ran out while it waited behind others): drop the copy;
			// the original settles the sequence.
			l.cfg.Hooks.Settled(DuplicateDelivery)
			if l.debug {
				l.cfg.Log.Debug("redelivery of a message in hand dropped", "consumer", src.name, "seq", it.seq, "delivered", it.delivered)
			}
			return
		}
		if src.sawPin(m) {
			l.gate(src, "new pin")
		}
		var key string
		if l.cfg.Key != nil {
			key = l.cfg.Key(m)
		}
		if l.debug {
			l.cfg.Log.Debug("dispatched", "consumer", src.name, "seq", it.seq, "delivered", it.delivered, "key", key)
		}
		sc.add(key, it)
	}
	errs := make(chan error, len(l.sources))
	var swg sync.WaitGroup
	for _, src := range l.sources {
		swg.Add(1)
		go func() {
			defer swg.Done()
			if err := l.runSource(ctx, hctx, src, sc, out, dispatch); err != nil {
				errs <- err
			}
		}()
	}
	var pres *presence
	if l.cfg.Partitions > 0 {
		var err error
		if pres, err = l.startPresence(); err != nil {
			l.cfg.Log.Warn("presence unavailable, partitions are not balanced", "err", err)
		} else {
			swg.Add(1)
			go func() {
				defer swg.Done()
				l.balance(ctx, pres)
			}()
		}
	}
	swg.Wait()
	if pres != nil {
		pres.stop()
	}
	close(errs)
	return <-errs // nil unless a consumer was refused (StopOnRefusal)
}

// runSource keeps src's consumer alive until ctx is done: pulls from it,
// hands what it had back when it lost it, gives the partition up when the
// balancer asks.
func (l *Loop) runSource(ctx, hctx context.Context, src *source, sc *sched, out *outstanding, dispatch func(*source, jetstream.Msg)) error {
	if src.pinned {
		wctx, wcancel := context.WithCancel(ctx)
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			l.watchTakeovers(wctx, src, sc)
		}()
		defer func() {
			wcancel()
			<-watched
		}()
	}
	ladder := backoff.New(minRetry, maxRetry, nil)
	for ctx.Err() == nil {
		pctx, pcancel := context.WithCancel(ctx)
		stopRelease := src.onRelease(pcancel)
		live, err := l.consumeOnce(pctx, src, func(m jetstream.Msg) { dispatch(src, m) })
		stopRelease()
		released := ctx.Err() == nil && pctx.Err() != nil
		pcancel()
		if errors.Is(err, errPinLost) && ctx.Err() == nil {
			// Another replica holds the partition now: what this one has
			// not started goes back, in order (its gate waits for it).
			l.cfg.Log.Warn("partition taken over by another replica; handing back what is not started", "stream", l.cfg.Stream, "consumer", src.name)
			src.clearPin()
			l.giveBack(ctx, hctx, src, sc, out)
			sc.reopen(src.part)
			continue
		}
		l.setLive(src.name, false)
		if ctx.Err() != nil || released {
			// Shutting down, or giving the partition to another replica:
			// what is not started goes back in order; what runs finishes.
			l.giveBack(ctx, hctx, src, sc, out)
			if ctx.Err() != nil {
				return nil
			}
			l.cfg.Log.Info("partition given up", "stream", l.cfg.Stream, "consumer", src.name)
			if !backoff.Sleep(ctx, l.cfg.ReleaseCooldown) {
				return nil
			}
			sc.reopen(src.part)
			continue
		}
		var apiErr *jetstream.APIError
		if l.cfg.StopOnRefusal && errors.As(err, &apiErr) && apiErr.Code == 400 {
			return fmt.Errorf("consume: consumer %s refused: %w", src.name, err)
		}
		if src.pinned && src.held() && live > 0 {
			// The pull broke off (the connection dropped, the server shut
			// down): what the server had sent and this replica had not read
			// is lost in flight and comes back only after its ack wait, so
			// the partition waits for it (as after a takeover) before any
			// chat goes on; else a chat's newer messages, pulled first from
			// the re-created consumer, would overtake it.
			l.gate(src, "pull broke off")
		}
		if live >= l.cfg.StableAfter {
			// Healthy for a while: a new incident, not the next failure of
			// the last one.
			ladder.Reset()
		}
		retryIn := ladder.Next()
		l.cfg.Hooks.Lost(err, retryIn)
		l.cfg.Log.Warn("consumer lost, re-creating", "stream", l.cfg.Stream, "consumer", src.name, "err", err, "retry_in", retryIn)
		if !backoff.Sleep(ctx, retryIn) {
			l.giveBack(ctx, hctx, src, sc, out)
			return nil
		}
	}
	return nil
}

// giveBack hands src's messages in hand back in stream order (each chat's
// after its running message settled), waits until none is left, and then,
// for a pinned partition, unpins it so that a waiting replica takes it at
// once instead of after the pinned TTL.
func (l *Loop) giveBack(ctx, hctx context.Context, src *source, sc *sched, out *outstanding) {
	l.handBack(sc, out, sc.closePartition(src.part))
	var stop <-chan struct{}
	if ctx.Err() == nil {
		stop = ctx.Done() // a release interrupted by shutdown: go on as shutdown
	}
	if !sc.waitEmpty(src.part, stop) {
		sc.waitEmpty(src.part, nil)
	}
	if !src.pinned || !src.held() {
		return
	}
	uctx, cancel := context.WithTimeout(hctx, 5*time.Second)
	defer cancel()
	if s, err := l.js.Stream(uctx, l.cfg.Stream); err == nil {
		err = s.UnpinConsumer(uctx, src.name, PriorityGroup)
		if err != nil {
			l.cfg.Log.Debug("unpin failed", "consumer", src.name, "err", err)
		}
	}
	src.clearPin()
}

// handBack naks items at once, in the order given (stream order per chat),
// so that the server redelivers them in that order, then counts them out
// of hand. The last nak waits for the server's reply: the server takes
// acks in the order sent, so once it answered, every nak before it is on
// the redelivery queue too, ahead of anything newer (the caller may unpin
// the partition next).
func (l *Loop) handBack(sc *sched, out *outstanding, items []*item) {
	for i, it := range items {
		out.remove(it)
		it.settling.Store(true)
		l.nak(it.m, i == len(items)-1)
		l.cfg.Hooks.Settled(HandedBack)
	}
	sc.settle(items)
}

// nak hands m back to the server; sync waits until the server took it.
func (l *Loop) nak(m jetstream.Msg, sync bool) {
	var err error
	if nc := l.js.Conn(); sync && nc != nil && m.Reply() != "" {
		_, err = nc.Request(m.Reply(), []byte("-NAK"), 5*time.Second)
	} else {
		err = m.Nak()
	}
	if err != nil && !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
		l.cfg.Log.Debug("hand-back nak failed", "subject", m.Subject(), "err", err)
	}
}

// errPinLost ends a partition's pull when the server pinned another
// replica while this one still held messages of it.
var errPinLost = errors.New("consume: partition pinned to another replica")

// gate holds src's partition until the messages the server counts pending
// for it are all in hand here (watchTakeovers).
func (l *Loop) gate(src *source, why string) {
	if l.debug {
		l.cfg.Log.Debug("partition gated", "consumer", src.name, "why", why)
	}
	l.mu.Lock()
	sc := l.sched
	l.mu.Unlock()
	sc.gate(src.part)
	select {
	case src.takeover <- struct{}{}:
	default:
	}
}

// The re-create backoff: doubling from minRetry up to maxRetry.
const (
	minRetry = 100 * time.Millisecond
	maxRetry = 5 * time.Second
)

// consumeOnce creates src's consumer and pulls from it until an error or
// cancellation. live is how long the consumer was pulled from (zero when
// it could not be created). On cancellation the messages already pulled
// are dispatched before it returns (the caller hands them back in order).
func (l *Loop) consumeOnce(ctx context.Context, src *source, dispatch func(jetstream.Msg)) (live time.Duration, err error) {
	if l.cfg.Ensure != nil {
		if err := l.cfg.Ensure(ctx); err != nil {
			return 0, fmt.Errorf("ensuring streams: %w", err)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	cc := l.consumerConfig(src.name, src.filters, src.pinned)
	if have, err := l.js.Consumer(cctx, l.cfg.Stream, src.name); err == nil {
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
	if src.pinned {
		return l.fetchLoop(ctx, cons, src, dispatch)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(src.batch), jetstream.PullHeartbeat(l.cfg.Heartbeat))
	if err != nil {
		return 0, fmt.Errorf("starting pull: %w", err)
	}
	// On cancellation, drain rather than stop: messages already pulled into
	// the iterator's buffer come out of Next, and are handed back in order
	// with the rest.
	stop := context.AfterFunc(ctx, it.Drain)
	defer stop()
	defer it.Stop()
	l.setLive(src.name, true)
	since := time.Now()
	for {
		m, err := it.Next()
		if err != nil {
			live = time.Since(since)
			if ctx.Err() != nil {
				return live, ctx.Err()
			}
			if errors.Is(err, jetstream.ErrNoHeartbeat) && !l.consumerGone(ctx, src.name) {
				// A slow server, a starved process or a connection being
				// re-established, not a lost consumer: the iterator pulls
				// again by itself. Re-creating it would strand the messages
				// in its buffer until their ack wait.
				l.cfg.Log.Warn("pull heartbeat missed, consumer not reported gone", "stream", l.cfg.Stream, "consumer", src.name)
				continue
			}
			return live, err
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

// add records it; it reports false when its sequence is already in hand.
func (o *outstanding) add(it *item) bool {
	if !it.hasSeq {
		return true
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, dup := o.m[it.seq]; dup {
		return false
	}
	o.m[it.seq] = it.m
	return true
}

func (o *outstanding) remove(it *item) {
	if it.hasSeq {
		o.mu.Lock()
		delete(o.m, it.seq)
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

// fetchLoop pulls a partition one request at a time until ctx is done,
// and lets the last request run out rather than cancel it: a request the
// client gave up could still be served by the server, and what it served
// would be lost until its ack wait, then redelivered behind newer
// messages. So when fetchLoop returns, everything the server delivered
// has been dispatched, and the partition can be handed over in order.
func (l *Loop) fetchLoop(ctx context.Context, cons jetstream.Consumer, src *source, dispatch func(jetstream.Msg)) (time.Duration, error) {
	l.setLive(src.name, true)
	since := time.Now()
	for ctx.Err() == nil {
		if l.saturated.Load() && !src.held() {
			// At its share: leave this partition to a replica below its own.
			if !backoff.Sleep(ctx, min(l.cfg.BalanceEvery/2, 250*time.Millisecond)) {
				break
			}
			continue
		}
		batch, err := cons.Fetch(src.batch, jetstream.FetchMaxWait(l.cfg.PullExpiry),
			jetstream.FetchHeartbeat(l.cfg.Heartbeat), jetstream.FetchPriorityGroup(PriorityGroup))
		if err != nil {
			return time.Since(since), fmt.Errorf("pulling: %w", err)
		}
		for m := range batch.Messages() {
			dispatch(m)
		}
		switch err := batch.Error(); {
		case err == nil:
		case errors.Is(err, jetstream.ErrPinIDMismatch):
			if src.held() {
				// The server pinned another replica (this one stalled past
				// PinnedTTL): hand what is not started back, in order.
				return time.Since(since), errPinLost
			}
			// Not ours: another replica is pinned. Pull again (standby).
		case errors.Is(err, jetstream.ErrConsumerLeadershipChanged),
			errors.Is(err, jetstream.ErrNoHeartbeat) && !l.consumerGone(ctx, src.name):
			// The pull ended abnormally: the client dropped whatever the
			// server had sent it and it had not read yet. Those messages
			// come back after their ack wait, so the partition waits for
			// them (as after a takeover) before any chat goes on.
			l.cfg.Log.Warn("pull ended abnormally; the partition waits for what it may have lost", "stream", l.cfg.Stream, "consumer", src.name, "err", err)
			if src.held() {
				l.gate(src, "pull ended abnormally")
			}
		default:
			return time.Since(since), err
		}
	}
	return time.Since(since), ctx.Err()
}

// consumerGone reports whether the server says the durable consumer (or
// its stream) no longer exists. Any other lookup failure (a timeout, a
// connection being re-established) is not proof that it is gone.
func (l *Loop) consumerGone(ctx context.Context, name string) bool {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := l.js.Consumer(cctx, l.cfg.Stream, name)
	switch {
	case err == nil:
		return false
	case errors.Is(err, jetstream.ErrConsumerNotFound), errors.Is(err, jetstream.ErrStreamNotFound):
		return true
	}
	l.cfg.Log.Warn("consumer lookup failed, keeping the pull", "stream", l.cfg.Stream, "consumer", name, "err", err)
	return false
}

// callCtx is the context a handler is called with: what Attempt, Later
// and Metadata return, in one value (a context.WithValue for each cost an
// allocation apiece and a longer lookup).
type callCtx struct {
	context.Context
	attempt uint64
	d       deferral
	md      *jetstream.MsgMetadata
}

type callKey struct{}

func (c *callCtx) Value(key any) any {
	if _, ok := key.(callKey); ok {
		return c
	}
	return c.Context.Value(key)
}

// callOf returns the handler call ctx belongs to, or nil outside one.
func callOf(ctx context.Context) *callCtx {
	c, _ := ctx.Value(callKey{}).(*callCtx)
	return c
}

// Attempt returns the attempt number of the message a handler is called
// for: 1 the first time, counting both redeliveries by the server and the
// loop's own in-order retries. A handler with side effects outside
// JetStream checks for Attempt > 1 before repeating them (a retry may
// follow an attempt that got half way).
func Attempt(ctx context.Context) uint64 {
	if c := callOf(ctx); c != nil {
		return c.attempt
	}
	return 1
}

// Metadata returns the JetStream metadata of the message a handler is
// called for, as the loop read it on delivery (jetstream.Msg.Metadata
// parses the reply subject again on every call). It is nil outside a
// handler, or when the metadata could not be read; the handler must not
// modify it.
func Metadata(ctx context.Context) *jetstream.MsgMetadata {
	if c := callOf(ctx); c != nil {
		return c.md
	}
	return nil
}

// process handles one message until it is settled: acked, given up, or
// handed back. A failed attempt is retried here, after the growing delay,
// while the message's later messages of the same key wait behind it: a
// retry never lets them overtake (a nak would). Retries stop when the
// partition is being handed back or the handlers' grace ran out; the
// message then goes back to the server, ahead of the rest of its chat.
//
// It reports false when the handler deferred the outcome (Later): then
// settle is called once the message is settled, from whichever goroutine
// reported the outcome, and the message's chat is held until then.
func (l *Loop) process(ctx context.Context, sc *sched, it *item, settle func()) bool {
	return l.attempts(ctx, sc, it, it.delivered, nil, settle)
}

// attempts runs the attempts of it from attempt on. outcome, when set, is
// the result of attempt, already made (a deferred one): it is not run
// again.
func (l *Loop) attempts(ctx context.Context, sc *sched, it *item, attempt uint64, outcome *error, settle func()) bool {
	var givingUp error // the cause, once the dead letter failed to store
	var failure error  // the last attempt's error (logged)
	for {
		if givingUp == nil {
			var err error
			if outcome != nil {
				err, outcome = *outcome, nil
			} else {
				call := &callCtx{Context: ctx, attempt: attempt, md: it.md}
				d := &call.d
				start := time.Now()
				err = l.safeHandle(call, it.m)
				l.cfg.Hooks.Handled(time.Since(start))
				if d.arm(err, func(err error) { l.resume(ctx, sc, it, attempt, err, settle) }) {
					return false
				}
			}
			if err == nil {
				l.ack(it)
				return true
			}
			failure = err
			if IsPermanent(err) || l.cfg.MaxDeliver > 0 && attempt >= uint64(l.cfg.MaxDeliver) {
				givingUp = err
			}
		}
		if givingUp != nil && l.giveUp(ctx, it, givingUp) {
			return true
		}
		var delay time.Duration
		switch {
		case ctx.Err() != nil || sc.isClosing(it.part):
			l.handBackOne(it)
			return true
		default:
			delay = backoff.Delay(l.cfg.NakBase, l.cfg.NakMax, int(min(attempt-1, 62)))
			l.cfg.Hooks.Settled(Retried)
			l.cfg.Log.Debug("handler failed, retrying in order", "subject", it.m.Subject(), "seq", it.seq, "attempt", attempt, "retry_in", delay, "err", failure)
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
		case <-sc.closed(it.part):
		}
		t.Stop()
		if ctx.Err() != nil || sc.isClosing(it.part) {
			l.handBackOne(it)
			return true
		}
		attempt++
	}
}

func (l *Loop) ack(it *item) {
	// Out of the gate's count before the server can count it out of its
	// pending ones (see sched.heldUpTo).
	it.settling.Store(true)
	if err := it.m.Ack(); err != nil && !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
		l.cfg.Log.Warn("ack failed", "subject", it.m.Subject(), "err", err)
	}
	if l.debug {
		l.cfg.Log.Debug("acked", "subject", it.m.Subject(), "seq", it.seq)
	}
	l.cfg.Hooks.Settled(Acked)
}

// resume settles a message whose handler deferred its outcome: acked at
// once on success; a failure goes on as a failed attempt (retry in order,
// or give up) on a goroutine of its own, as the reporting goroutine (a
// publisher's reply handler) must not wait.
func (l *Loop) resume(ctx context.Context, sc *sched, it *item, attempt uint64, err error, settle func()) {
	if err == nil {
		l.ack(it)
		settle()
		return
	}
	l.later.Add(1)
	go func() {
		defer l.later.Done()
		if l.attempts(ctx, sc, it, attempt, &err, settle) {
			settle()
		}
	}()
}

// deferral is one attempt's Later: the outcome may be reported before the
// loop has seen the handler return (arm), or after.
type deferral struct {
	mu       sync.Mutex
	deferred bool        // Later was called
	finished bool        // the outcome is decided
	outcome  error       // it, while not armed
	resume   func(error) // set by arm, called with the outcome
}

// Later defers the outcome of the message the handler is called for: the
// handler returns nil at once and calls done exactly once, from any
// goroutine, with what it would have returned (nil to ack, an error to
// retry, Permanent to give up). Until then the message is in hand (kept
// alive, counted in MaxAckPending) and its chat held — later messages of
// its key wait —, while the worker goes on with other chats: a handler
// waiting on a reply (a PubAck) costs no worker. A handler that returns an
// error (or panics) after Later settles with that, and its done is then
// ignored.
//
// Outside a consume loop's handler Later returns nil: the caller then
// finishes synchronously.
func Later(ctx context.Context) (done func(error)) {
	c := callOf(ctx)
	if c == nil {
		return nil
	}
	d := &c.d
	d.mu.Lock()
	d.deferred = true
	d.mu.Unlock()
	return d.done
}

func (d *deferral) done(err error) {
	d.mu.Lock()
	if d.finished {
		d.mu.Unlock()
		return
	}
	d.finished = true
	resume := d.resume
	if resume == nil {
		d.outcome = err
	}
	d.mu.Unlock()
	if resume != nil {
		resume(err)
	}
}

// arm hands the deferral its continuation once the handler returned
// handlerErr; it reports whether the handler deferred. An outcome decided
// already is handed over at once (on the caller's goroutine).
func (d *deferral) arm(handlerErr error, resume func(error)) bool {
	d.mu.Lock()
	if !d.deferred {
		d.mu.Unlock()
		return false
	}
	if handlerErr != nil && !d.finished {
		d.finished, d.outcome = true, handlerErr
	}
	if !d.finished {
		d.resume = resume
		d.mu.Unlock()
		return true
	}
	outcome := d.outcome
	d.mu.Unlock()
	resume(outcome)
	return true
}

// handBackOne naks m at once (the caller hands its chat's rest back after).
func (l *Loop) handBackOne(it *item) {
	it.settling.Store(true)
	l.nak(it.m, true)
	l.cfg.Hooks.Settled(HandedBack)
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

// giveUp hands m to DeadLetter and terminates it. It reports false when
// the dead letter could not be stored: the message is kept (and retried)
// rather than lost.
func (l *Loop) giveUp(ctx context.Context, it *item, cause error) bool {
	m := it.m
	var inner permanentError
	if errors.As(cause, &inner) {
		cause = inner.err
	}
	if l.cfg.DeadLetter != nil {
		if err := l.cfg.DeadLetter(ctx, m, cause); err != nil {
			l.cfg.Log.Error("dead-letter failed, will retry", "subject", m.Subject(), "err", err)
			l.cfg.Hooks.Settled(DeadLetterFailed)
			return false
		}
	}
	it.settling.Store(true)
	if err := m.Term(); err != nil && !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
		l.cfg.Log.Warn("term failed", "subject", m.Subject(), "err", err)
	}
	l.cfg.Hooks.Settled(DeadLettered)
	return true
}
