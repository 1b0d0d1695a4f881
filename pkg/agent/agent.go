package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/pkg/events"
)

// ResultsStream is the stream egress stores each action's definitive result
// in (relay.results.>), for the bus's duplicate window.
const ResultsStream = events.ResultsStream

// Options configure a Client. Only Name is required.
type Options struct {
	// Name is the durable consumer name, shared by all replicas of the
	// agent (they split the events). Letters, digits, '-' and '_'.
	Name string
	// Platforms, when set, limits the events to these platforms
	// (relay.inbound.message.<platform>.>). Ignored when Filter is set.
	Platforms []string
	// Filter is the subject filter of the events (default
	// relay.inbound.message.>).
	Filter string
	// Workers is how many events are handled at once (default 16). Events
	// of one conversation are never handled concurrently.
	Workers int
	// AckWait is how long the server waits for an event's ack before
	// redelivering it (default 30s); a running handler extends it
	// automatically.
	AckWait time.Duration
	// MaxDeliver bounds how often an event is delivered (default 10; -1 for
	// no bound). After the last failure the event is dropped and reported
	// to ErrorHandler with ErrGaveUp.
	MaxDeliver int
	// RetryBase and RetryMax shape the redelivery delay after a handler
	// error: RetryBase·2^(n-1), capped at RetryMax (defaults 1s and 1m).
	RetryBase, RetryMax time.Duration
	// DeliverAll, when the durable consumer is created for the first time,
	// starts from the oldest stored event instead of new ones.
	DeliverAll bool
	// Partitions, when above zero, keeps each chat's events in order with
	// any number of replicas of the agent: the events are sourced into the
	// agent's own work stream (WorkStream(Name)) with their chat's
	// partition appended, and each partition is consumed by one replica at
	// a time (pinned by the server; replicas balance the partitions among
	// themselves and take over those of a replica that stops). Without it
	// the replicas share one consumer: a chat's events are in order within
	// a replica only. Every replica must use the same value; to change it,
	// remove the work stream once empty.
	Partitions int
	// ErrorHandler receives problems the client cannot return to a caller
	// (undecodable events, events given up, consumer re-creation). It may
	// be nil. It is called from several goroutines at once and must not
	// block.
	ErrorHandler func(error)
}

func (o *Options) defaults() error {
	if o.Name == "" {
		return fmt.Errorf("%w: Name is required (the durable consumer name)", ErrInvalidOptions)
	}
	for _, r := range o.Name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("%w: Name %q: use letters, digits, '-' and '_'", ErrInvalidOptions, o.Name)
		}
	}
	if o.Workers == 0 {
		o.Workers = 16
	}
	if o.Partitions < 0 || o.Partitions > 1024 {
		return fmt.Errorf("%w: Partitions %d: want 0 to 1024", ErrInvalidOptions, o.Partitions)
	}
	if o.Workers < 0 {
		return fmt.Errorf("%w: Workers %d: want > 0", ErrInvalidOptions, o.Workers)
	}
	if o.AckWait == 0 {
		o.AckWait = 30 * time.Second
	}
	if o.AckWait < time.Second {
		return fmt.Errorf("%w: AckWait %v: want at least 1s", ErrInvalidOptions, o.AckWait)
	}
	if o.MaxDeliver == 0 {
		o.MaxDeliver = 10
	}
	if o.RetryBase <= 0 {
		o.RetryBase = time.Second
	}
	if o.RetryMax < o.RetryBase {
		o.RetryMax = max(time.Minute, o.RetryBase)
	}
	if o.ErrorHandler == nil {
		o.ErrorHandler = func(error) {}
	}
	return nil
}

// filters returns the consumer's subject filters.
func (o *Options) filters() []string {
	if o.Filter != "" {
		return []string{o.Filter}
	}
	if len(o.Platforms) == 0 {
		return []string{events.InboundMessageSubjects}
	}
	out := make([]string, len(o.Platforms))
	for i, p := range o.Platforms {
		out[i] = "relay.inbound.message." + events.SubjectToken(p) + ".>"
	}
	return out
}

// Client receives events and sends actions for one agent. Create it with
// [New]; it is safe for concurrent use.
type Client struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	opts Options
}

// New returns a client on nc. It does no I/O; [Client.Run] creates the
// durable consumer.
func New(nc *nats.Conn, opts Options) (*Client, error) {
	if nc == nil {
		return nil, fmt.Errorf("%w: nil connection", ErrInvalidOptions)
	}
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("agent: jetstream: %w", err)
	}
	return &Client{nc: nc, js: js, opts: opts}, nil
}

// SendOption adjusts one Send or Publish.
type SendOption func(*sendOpts)

type sendOpts struct {
	id       string
	deadline time.Time
}

// WithID sets the action id (the Nats-Msg-Id): publishing the same id again
// within the bus's duplicate window is absorbed, and Send then returns the
// first publication's result.
func WithID(id string) SendOption { return func(o *sendOpts) { o.id = id } }

// WithDeadline bounds how long egress keeps retrying the action while the
// connector is unreachable (the Relay-Deadline header; egress's default is
// 15 minutes).
func WithDeadline(t time.Time) SendOption { return func(o *sendOpts) { o.deadline = t } }

// NewID returns a fresh random action id (32 lowercase hex characters).
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (c *Client) message(a *events.Action, so sendOpts) (*nats.Msg, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	data, err := events.Marshal(a, events.ContentTypeMsgpack)
	if err != nil {
		return nil, fmt.Errorf("agent: encoding action: %w", err)
	}
	// The subject names the action's chat: egress sends one chat's actions
	// in the order they were published, with any number of replicas.
	chat := events.ActionChat(a)
	m := &nats.Msg{Subject: events.OutboundChatSubject(a.Op, chat), Data: data, Header: nats.Header{
		events.ContentTypeHeader: {events.ContentTypeMsgpack},
		events.TypeHeader:        {events.TypeAction},
		events.MsgIDHeader:       {so.id},
	}}
	if chat != "" {
		m.Header.Set(events.ChatHeader, events.SubjectToken(chat))
	}
	if !so.deadline.IsZero() {
		m.Header.Set(events.DeadlineHeader, so.deadline.UTC().Format(time.RFC3339Nano))
	}
	return m, nil
}

func options(opts []SendOption) sendOpts {
	var so sendOpts
	for _, o := range opts {
		o(&so)
	}
	if so.id == "" {
		so.id = NewID()
	}
	return so
}

// Publish stores the action on relay.outbound.<op> and returns its id
// without waiting for the result (fire and forget: typing indicators,
// reactions). The action is validated first; errors wrap
// events.ErrBadAction for an invalid one.
func (c *Client) Publish(ctx context.Context, a events.Action, opts ...SendOption) (string, error) {
	so := options(opts)
	m, err := c.message(&a, so)
	if err != nil {
		return "", err
	}
	if _, err := c.js.PublishMsg(ctx, m); err != nil {
		return "", fmt.Errorf("agent: publishing %s action: %w", a.Op, err)
	}
	return so.id, nil
}

// Send publishes the action and waits for its result (or for ctx). The
// returned error is about the transport only: a delivered action that the
// platform refused comes back as a result with Success false (see
// events.SendResult: Declined, Ambiguous, Code). When ctx ends first the
// error wraps ErrNoResult, and the action may still be delivered later.
func (c *Client) Send(ctx context.Context, a events.Action, opts ...SendOption) (events.SendResult, error) {
	so := options(opts)
	m, err := c.message(&a, so)
	if err != nil {
		return events.SendResult{}, err
	}
	// Subscribe before publishing, so the result cannot be missed.
	sub, err := c.nc.SubscribeSync(events.ResultsSubject(so.id))
	if err != nil {
		return events.SendResult{}, fmt.Errorf("agent: subscribing to the result: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	ack, err := c.js.PublishMsg(ctx, m)
	if err != nil {
		return events.SendResult{}, fmt.Errorf("agent: publishing %s action: %w", a.Op, err)
	}
	if ack.Duplicate {
		// Published before (a retried turn): its result may be stored.
		if r, ok := c.storedResult(ctx, so.id); ok {
			return r, nil
		}
	}
	return c.await(ctx, sub, so.id)
}

// await waits for the result on sub, looking into the results stream now
// and then in case the live message was missed (a reconnect).
func (c *Client) await(ctx context.Context, sub *nats.Subscription, id string) (events.SendResult, error) {
	const recheck = 5 * time.Second
	for {
		wctx, cancel := context.WithTimeout(ctx, recheck)
		msg, err := sub.NextMsgWithContext(wctx)
		cancel()
		if err == nil {
			return decodeResult(msg.Data, msg.Header.Get(events.ContentTypeHeader))
		}
		if ctx.Err() != nil {
			return events.SendResult{}, fmt.Errorf("%w for action %s: %w", ErrNoResult, id, ctx.Err())
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			return events.SendResult{}, fmt.Errorf("agent: waiting for the result: %w", err)
		}
		if r, ok := c.storedResult(ctx, id); ok {
			return r, nil
		}
	}
}

// storedResult looks the action's result up in the results stream.
func (c *Client) storedResult(ctx context.Context, id string) (events.SendResult, bool) {
	st, err := c.js.Stream(ctx, ResultsStream)
	if err != nil {
		return events.SendResult{}, false
	}
	raw, err := st.GetLastMsgForSubject(ctx, events.ResultsSubject(id))
	if err != nil {
		return events.SendResult{}, false
	}
	r, err := decodeResult(raw.Data, raw.Header.Get(events.ContentTypeHeader))
	return r, err == nil
}

func decodeResult(data []byte, ct string) (events.SendResult, error) {
	var r events.SendResult
	if err := events.Unmarshal(data, ct, &r); err != nil {
		return r, fmt.Errorf("agent: decoding result: %w", err)
	}
	return r, nil
}

// platformOf returns a source platform worth naming on an action ("relay"
// is the contract's "unknown" and names no identity).
func platformOf(p string) string {
	if p == events.PlatformRelay {
		return ""
	}
	return strings.TrimSpace(p)
}
