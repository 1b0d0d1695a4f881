package agent

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/pkg/consume"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/jswatch"
)

// Handler handles one event. Return nil to acknowledge it, an error to have
// it redelivered later.
type Handler func(ctx context.Context, ev *Event) error

// Event is one inbound chat message, with helpers to answer it.
type Event struct {
	events.MessageEvent
	// Subject is the subject the event was published on.
	Subject string
	// Delivery counts attempts at this event (1 the first time), both
	// redeliveries and in-order retries (consume.Attempt).
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
// time (one conversation at a time), on the consume loop every relaybus
// stage runs on (package github.com/relaybus/relaybus/pkg/consume). It
// re-creates the consumer after it is lost (server restart, deleted
// consumer), backing off from 100 ms to 5 s with jitter between attempts
// (a consumer that stayed live for 30 s starts the backoff over). Once ctx
// is done it takes no new event, gives running handlers up to 10 s before
// their context is canceled, and returns nil when they have finished. It
// returns an error only for a consumer the server refuses outright (a bad
// filter).
//
// While it runs, it also moves the connection to another of its servers
// when the one it is on keeps answering that JetStream is unavailable (a
// server cut off from its cluster; package jswatch), as the relay's own
// stages do; each move is reported to ErrorHandler.
func (c *Client) Run(ctx context.Context, h Handler) error {
	wctx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		jswatch.Run(wctx, c.nc, jswatch.Options{
			Every: watchEvery,
			Moving: func(server string, err error) {
				c.opts.ErrorHandler(fmt.Errorf("agent: %s keeps answering that JetStream is unavailable, reconnecting to another server: %w", server, err))
			},
			OnError: c.opts.ErrorHandler,
		})
	}()
	defer func() { stopWatch(); <-watched }()
	cfg := consume.Config{
		Stream:         events.InboundStream,
		Durable:        c.opts.Name,
		FilterSubjects: c.opts.filters(),
		DeliverPolicy:  jetstream.DeliverNewPolicy,
		Workers:        c.opts.Workers,
		AckWait:        c.opts.AckWait,
		MaxDeliver:     c.opts.MaxDeliver,
		NakBase:        c.opts.RetryBase,
		NakMax:         c.opts.RetryMax,
		MaxAckPending:  8 * c.opts.Workers,
		StableAfter:    stableAfter,
		Key:            func(m jetstream.Msg) string { return m.Headers().Get(events.SessionKeyHeader) },
		DeadLetter:     c.gaveUp,
		StopOnRefusal:  true,
		Hooks: consume.Hooks{Lost: func(err error, retryIn time.Duration) {
			c.opts.ErrorHandler(fmt.Errorf("agent: consumer %s lost, re-creating in %v: %w", c.opts.Name, retryIn, err))
		}},
	}
	if c.opts.DeliverAll {
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
	}
	if n := c.opts.Partitions; n > 0 {
		stream, err := c.ensureWorkStream(ctx)
		if err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		cfg.Stream, cfg.FilterSubjects, cfg.DeliverPolicy = stream, nil, jetstream.DeliverAllPolicy
		cfg.Partitions = n
		cfg.PartitionFilter = func(p int) []string { return []string{"relay.inbound.*.*.*." + strconv.Itoa(p)} }
		cfg.Key = workChat
	}
	loop, err := consume.New(c.js, cfg, func(ctx context.Context, m jetstream.Msg) error { return c.handle(ctx, m, h) })
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	if err := loop.Run(ctx); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	return nil
}

// watchEvery is jswatch's probe interval (zero: its default; a variable
// for the tests).
var watchEvery time.Duration

// stableAfter is how long a consumer must stay live for its loss to start
// the re-create backoff over (a variable for the tests).
var stableAfter = 30 * time.Second

// handle turns one message into an Event for h. A message that is no
// message event is acked; one that does not decode is given up.
func (c *Client) handle(ctx context.Context, m jetstream.Msg, h Handler) error {
	md := consume.Metadata(ctx)
	if md == nil {
		var err error
		if md, err = m.Metadata(); err != nil {
			return consume.Permanent(fmt.Errorf("%w on %s: %w", ErrBadEvent, m.Subject(), err))
		}
	}
	hdr := m.Headers()
	if t := hdr.Get(events.TypeHeader); t != "" && t != events.TypeMessageEvent {
		return nil // not a message event (an interrupt under a wide filter)
	}
	ev := &Event{Subject: publicSubject(m.Subject()), Delivery: consume.Attempt(ctx), c: c,
		idBase: c.opts.Name + "-" + strconv.FormatUint(md.Sequence.Stream, 10)}
	if err := events.Unmarshal(m.Data(), hdr.Get(events.ContentTypeHeader), &ev.MessageEvent); err != nil {
		return consume.Permanent(fmt.Errorf("%w on %s: %w", ErrBadEvent, m.Subject(), err))
	}
	return h(ctx, ev)
}

// gaveUp reports an event the loop gives up on (then terminates): an
// undecodable one, or one whose handler failed on its last delivery.
func (c *Client) gaveUp(_ context.Context, m jetstream.Msg, cause error) error {
	if errors.Is(cause, ErrBadEvent) {
		c.opts.ErrorHandler(cause)
		return nil
	}
	var delivered uint64
	if md, err := m.Metadata(); err == nil {
		delivered = md.NumDelivered
	}
	c.opts.ErrorHandler(fmt.Errorf("%w (%d) on %s: %w", ErrGaveUp, delivered, m.Subject(), cause))
	return nil
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
