package agent

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/pkg/events"
)

// Handler handles one event. Return nil to acknowledge it, an error to have
// it redelivered later.
type Handler func(ctx context.Context, ev *Event) error

// Event is one inbound chat message, with helpers to answer it.
type Event struct {
	events.MessageEvent
	// Subject is the subject the event was published on.
	Subject string
	// Delivery counts deliveries of this event (1 the first time).
	Delivery uint64

	c       *Client
	idBase  string
	replies atomic.Uint64
}

// nextID returns the id of the event's next reply: derived from the
// consumer, the event's stream position and the reply's rank, so that a
// redelivered event replying again reuses the same ids.
func (ev *Event) nextID() string {
	return ev.idBase + "-" + strconv.FormatUint(ev.replies.Add(1), 10)
}

// IsInteraction reports whether the event is a Discord interaction, which
// is answered with a follow-up (a channel message may be impossible for a
// user-installed app).
func (ev *Event) IsInteraction() bool {
	return ev.Interaction != nil && ev.Source.Platform == "discord"
}

// Reply answers the event with text and waits for the result: a follow-up
// for a Discord interaction, otherwise a send to the event's chat replying
// to its message.
func (ev *Event) Reply(ctx context.Context, text string) (events.SendResult, error) {
	if ev.IsInteraction() {
		return ev.FollowUp(ctx, text)
	}
	return ev.c.Send(ctx, ev.ReplyAction(text), WithID(ev.nextID()))
}

// ReplyAction returns the send action Reply would use for a normal message:
// chat_id, reply_to the message id (null when unknown), the platform.
func (ev *Event) ReplyAction(text string) events.Action {
	a := events.Action{Op: events.OpSend, ChatID: ev.Source.ChatID, Content: text, Platform: platformOf(ev.Source.Platform)}
	msgID := ev.MessageID
	if msgID == "" {
		msgID = ev.Source.MessageID
	}
	if msgID != "" {
		a.ReplyTo = &msgID
	}
	return a
}

// FollowUp answers the event's conversation through the connector's vaulted
// interaction token (op follow_up with the event's session key).
func (ev *Event) FollowUp(ctx context.Context, text string) (events.SendResult, error) {
	a := events.Action{Op: events.OpFollowUp, SessionKey: ev.SessionKey, Kind: events.FollowUpKindDiscord, Content: text, Platform: platformOf(ev.Source.Platform)}
	return ev.c.Send(ctx, a, WithID(ev.nextID()))
}

// Typing shows a typing indicator in the event's chat (fire and forget).
func (ev *Event) Typing(ctx context.Context) error {
	_, err := ev.c.Publish(ctx, events.Action{Op: events.OpTyping, ChatID: ev.Source.ChatID, Platform: platformOf(ev.Source.Platform)}, WithID(ev.nextID()))
	return err
}

// Run consumes events until ctx is done and calls h for each, Workers at a
// time (one conversation at a time). It re-creates the consumer after it
// is lost (server restart, deleted consumer), backing off from 100 ms to
// 5 s between attempts (a consumer that stayed live for 30 s starts the
// backoff over), and returns nil once ctx is done and running handlers
// have finished. It returns an error only for a consumer the server
// refuses outright (a bad filter).
func (c *Client) Run(ctx context.Context, h Handler) error {
	var wg sync.WaitGroup
	chans := make([]chan jetstream.Msg, c.opts.Workers)
	for i := range chans {
		chans[i] = make(chan jetstream.Msg, 8)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range chans[i] {
				c.handle(ctx, m, h)
			}
		}()
	}
	defer func() {
		for _, ch := range chans {
			close(ch)
		}
		wg.Wait()
	}()
	dispatch := func(m jetstream.Msg) {
		key := ""
		if hdr := m.Headers(); hdr != nil {
			key = hdr.Get(events.SessionKeyHeader)
		}
		chans[fnv(key)%uint64(len(chans))] <- m
	}

	backoff := minRetry
	for ctx.Err() == nil {
		live, err := c.consume(ctx, dispatch)
		if ctx.Err() != nil {
			return nil
		}
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.Code == 400 {
			return fmt.Errorf("agent: creating consumer %s: %w", c.opts.Name, err)
		}
		if live >= stableAfter {
			// Healthy for a while: a new incident, not the next failure of
			// the last one.
			backoff = minRetry
		}
		c.opts.ErrorHandler(fmt.Errorf("agent: consumer %s lost, re-creating in %v: %w", c.opts.Name, backoff, err))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxRetry)
	}
	return nil
}

// The consumer re-create backoff: doubling from minRetry up to maxRetry,
// back to minRetry after a consumer stayed live for stableAfter.
const (
	minRetry = 100 * time.Millisecond
	maxRetry = 5 * time.Second
)

var stableAfter = 30 * time.Second // a variable for the tests

func (c *Client) consumerConfig() jetstream.ConsumerConfig {
	cc := jetstream.ConsumerConfig{
		Durable:       c.opts.Name,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.opts.AckWait,
		MaxDeliver:    c.opts.MaxDeliver,
		MaxAckPending: 8 * c.opts.Workers,
		DeliverPolicy: jetstream.DeliverNewPolicy,
	}
	if c.opts.DeliverAll {
		cc.DeliverPolicy = jetstream.DeliverAllPolicy
	}
	if f := c.opts.filters(); len(f) == 1 {
		cc.FilterSubject = f[0]
	} else {
		cc.FilterSubjects = f
	}
	return cc
}

// consume creates (or binds to) the durable consumer and pulls from it
// until it is lost or ctx ends. live is how long it pulled (zero when the
// consumer could not be created).
func (c *Client) consume(ctx context.Context, dispatch func(jetstream.Msg)) (live time.Duration, err error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	cfg := c.consumerConfig()
	if have, err := c.js.Consumer(cctx, events.InboundStream, c.opts.Name); err == nil {
		// Where an existing consumer starts cannot change (and must not:
		// it keeps its position); the rest follows the options.
		old := have.CachedInfo().Config
		cfg.DeliverPolicy, cfg.OptStartSeq, cfg.OptStartTime = old.DeliverPolicy, old.OptStartSeq, old.OptStartTime
	}
	cons, err := c.js.CreateOrUpdateConsumer(cctx, events.InboundStream, cfg)
	cancel()
	if err != nil {
		return 0, err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2*c.opts.Workers), jetstream.PullHeartbeat(5*time.Second))
	if err != nil {
		return 0, err
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	since := time.Now()
	for {
		m, err := it.Next()
		if err != nil {
			return time.Since(since), err
		}
		dispatch(m)
	}
}

func (c *Client) handle(ctx context.Context, m jetstream.Msg, h Handler) {
	md, err := m.Metadata()
	if err != nil {
		_ = m.Term()
		return
	}
	hdr := m.Headers()
	if t := hdr.Get(events.TypeHeader); t != "" && t != events.TypeMessageEvent {
		_ = m.Ack() // not a message event (an interrupt under a wide filter)
		return
	}
	ev := &Event{Subject: m.Subject(), Delivery: md.NumDelivered, c: c,
		idBase: c.opts.Name + "-" + strconv.FormatUint(md.Sequence.Stream, 10)}
	if err := events.Unmarshal(m.Data(), hdr.Get(events.ContentTypeHeader), &ev.MessageEvent); err != nil {
		_ = m.Term()
		c.opts.ErrorHandler(fmt.Errorf("%w on %s: %w", ErrBadEvent, m.Subject(), err))
		return
	}
	stop := keepInProgress(m, c.opts.AckWait/2)
	err = safeCall(ctx, h, ev)
	stop()
	if err == nil {
		_ = m.Ack()
		return
	}
	if c.opts.MaxDeliver > 0 && md.NumDelivered >= uint64(c.opts.MaxDeliver) {
		_ = m.Term()
		c.opts.ErrorHandler(fmt.Errorf("%w (%d) on %s: %w", ErrGaveUp, md.NumDelivered, m.Subject(), err))
		return
	}
	delay := c.opts.RetryBase << min(md.NumDelivered-1, 20)
	if delay > c.opts.RetryMax || delay <= 0 {
		delay = c.opts.RetryMax
	}
	_ = m.NakWithDelay(delay)
}

// safeCall runs the handler, turning a panic into an error.
func safeCall(ctx context.Context, h Handler, ev *Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("agent: handler panicked: %v", r)
		}
	}()
	return h(ctx, ev)
}

// keepInProgress tells the server every interval that m is still being
// handled, until stop is called.
func keepInProgress(m jetstream.Msg, every time.Duration) (stop func()) {
	done := make(chan struct{})
	t := time.AfterFunc(every, func() {
		tk := time.NewTicker(every)
		defer tk.Stop()
		for {
			_ = m.InProgress()
			select {
			case <-done:
				return
			case <-tk.C:
			}
		}
	})
	return func() {
		if !t.Stop() {
			close(done)
		}
	}
}

func fnv(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// Interrupts calls fn for every user /stop (relay.inbound.interrupt.>)
// until ctx is done. Every replica of the agent sees every interrupt (the
// session may be running on any of them); interrupts that happen while the
// agent is disconnected are not replayed, since they only matter for turns
// that are running. fn's error is passed to ErrorHandler.
func (c *Client) Interrupts(ctx context.Context, fn func(events.Interrupt) error) error {
	sub, err := c.nc.Subscribe(events.InboundInterruptSubjects, func(m *nats.Msg) {
		var in events.Interrupt
		if err := events.Unmarshal(m.Data, m.Header.Get(events.ContentTypeHeader), &in); err != nil {
			c.opts.ErrorHandler(fmt.Errorf("%w on %s: %w", ErrBadEvent, m.Subject, err))
			return
		}
		if err := fn(in); err != nil {
			c.opts.ErrorHandler(fmt.Errorf("agent: interrupt handler: %w", err))
		}
	})
	if err != nil {
		return fmt.Errorf("agent: subscribing to interrupts: %w", err)
	}
	<-ctx.Done()
	_ = sub.Unsubscribe()
	return nil
}
