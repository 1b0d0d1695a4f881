package bus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Publisher publishes to JetStream streams and waits for each PubAck, at a
// fraction of the client's cost: the stages' hot path (the converter's
// events, egress's notes and results). It makes core requests the same
// way (egress's edge requests).
//
// nats.go's jetstream.PublishMsg is a request per message: a context with a
// deadline, a response channel, and a PubAck decoded with encoding/json.
// PublishMsgAsync drops the first two but still decodes every PubAck. A
// Publisher sends each message with a reply subject under one wildcard
// subscription of its own and reads an ordinary PubAck
// ({"stream":..,"seq":..}) without decoding JSON: only a reply that
// carries an error (or anything unusual) is decoded, with encoding/json.
// Measured in relay bench's converter (docs/performance.md, session 5).
//
// The publishes in flight are bounded by the callers (a consume loop's
// workers). A reply that does not come within the timeout fails the
// publish with context.DeadlineExceeded, as PublishMsg does; the message
// may still have been stored (a reply lost in a reconnect), so callers
// publish with a Nats-Msg-Id and a retry is absorbed.
type Publisher struct {
	nc      *nats.Conn
	sub     *nats.Subscription
	prefix  string // reply subjects are prefix + a token
	timeout time.Duration

	mu      sync.Mutex
	next    uint64
	pending map[string]*pendingAck
	closed  bool

	stop chan struct{}
	done chan struct{}
}

type pendingAck struct {
	ch       chan reply // buffered: the reply never waits for the caller
	cb       func(*nats.Msg, error)
	deadline time.Time
	ctx      context.Context // PublishFunc's: its end settles the publish
	stop     func() bool     // unregisters the ctx watch
}

// settle hands the reply (or why there is none) over.
func (pa *pendingAck) settle(m *nats.Msg, err error) {
	if pa.stop != nil {
		pa.stop()
	}
	if pa.cb != nil {
		pa.cb(m, err)
		return
	}
	pa.ch <- reply{msg: m, err: err}
}

// reply is what settles a pending publish or request: the reply message,
// or why there is none.
type reply struct {
	msg *nats.Msg
	err error
}

// ErrPublisherClosed is returned by Publish after Close.
var ErrPublisherClosed = errors.New("bus: publisher closed")

// NewPublisher subscribes to the replies on nc (under its inbox prefix) and
// returns a Publisher whose publishes fail after timeout without a PubAck
// (default 5 s, as jetstream.PublishMsg). Close releases it.
func NewPublisher(nc *nats.Conn, timeout time.Duration) (*Publisher, error) {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	p := &Publisher{nc: nc, prefix: nc.NewInbox() + ".", timeout: timeout, pending: map[string]*pendingAck{},
		stop: make(chan struct{}), done: make(chan struct{})}
	sub, err := nc.Subscribe(p.prefix+"*", p.onReply)
	if err != nil {
		return nil, fmt.Errorf("bus: publisher replies: %w", err)
	}
	// Replies are handled as they come; a slow one must not make the
	// client drop others.
	_ = sub.SetPendingLimits(-1, -1)
	p.sub = sub
	go p.expire()
	return p, nil
}

// Publish publishes m (its Reply is set here) and waits for the stream's
// PubAck: it returns the stored sequence, or the stream's error (a
// *jetstream.APIError), jetstream.ErrNoStreamResponse when no stream took
// the subject, context.DeadlineExceeded after the timeout, or ctx's error.
// A duplicate (a Nats-Msg-Id seen within the stream's window) is a
// success: the message is stored, once.
func (p *Publisher) Publish(ctx context.Context, m *nats.Msg) (uint64, error) {
	a, err := p.PublishAsync(m)
	if err != nil {
		return 0, err
	}
	return a.Wait(ctx)
}

// PendingAck is a publish whose PubAck has not been read yet.
type PendingAck struct {
	p     *Publisher
	token string
	ch    chan reply
}

// PublishAsync publishes m (its Reply is set here) and returns at once;
// Wait reads the outcome. Every PendingAck is settled: by its reply, the
// timeout, or Close.
func (p *Publisher) PublishAsync(m *nats.Msg) (*PendingAck, error) {
	return p.send(m, p.timeout)
}

// PublishFunc publishes m (its Reply is set here) and returns at once;
// done is called once with the outcome (as Publish returns it), from the
// Publisher's reply goroutine (it must not block), or after the timeout,
// ctx's end or Close. An error from PublishFunc itself means done will not
// be called.
func (p *Publisher) PublishFunc(ctx context.Context, m *nats.Msg, done func(seq uint64, err error)) error {
	pa := &pendingAck{deadline: time.Now().Add(p.timeout), ctx: ctx, cb: func(r *nats.Msg, err error) {
		if err != nil {
			done(0, err)
			return
		}
		done(parsePubAck(r))
	}}
	_, err := p.enqueue(m, pa)
	return err
}

// take removes a pending publish, reporting whether it was still there.
func (p *Publisher) take(token string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.pending[token]
	delete(p.pending, token)
	return ok
}

func (p *Publisher) send(m *nats.Msg, timeout time.Duration) (*PendingAck, error) {
	pa := &pendingAck{ch: make(chan reply, 1), deadline: time.Now().Add(timeout)}
	return p.enqueue(m, pa)
}

func (p *Publisher) enqueue(m *nats.Msg, pa *pendingAck) (*PendingAck, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrPublisherClosed
	}
	p.next++
	token := strconv.FormatUint(p.next, 36)
	if ctx := pa.ctx; ctx != nil {
		// Whoever takes the publish out of pending settles it: its reply,
		// the sweep, Close, or ctx's end here.
		pa.stop = context.AfterFunc(ctx, func() {
			if p.take(token) {
				pa.settle(nil, ctx.Err())
			}
		})
	}
	p.pending[token] = pa
	p.mu.Unlock()

	m.Reply = p.prefix + token
	if err := p.nc.PublishMsg(m); err != nil {
		p.forget(token)
		if pa.stop != nil {
			pa.stop()
		}
		return nil, err
	}
	return &PendingAck{p: p, token: token, ch: pa.ch}, nil
}

// Wait waits for the publish's outcome (see Publish) or ctx. It is called
// once.
func (a *PendingAck) Wait(ctx context.Context) (uint64, error) {
	r, err := a.wait(ctx)
	if err != nil {
		return 0, err
	}
	return parsePubAck(r)
}

func (a *PendingAck) wait(ctx context.Context) (*nats.Msg, error) {
	select {
	case r := <-a.ch:
		return r.msg, r.err
	case <-ctx.Done():
		a.p.forget(a.token)
		return nil, ctx.Err()
	}
}

// Request sends m as a core NATS request (its Reply is set here) through
// the Publisher's reply subscription, and returns the reply:
// nats.ErrNoResponders when nothing listens on the subject, an error
// wrapping context.DeadlineExceeded after timeout, or ctx's error. It
// costs no context or timer per request (nats.Conn.RequestMsgWithContext
// does).
func (p *Publisher) Request(ctx context.Context, m *nats.Msg, timeout time.Duration) (*nats.Msg, error) {
	a, err := p.send(m, timeout)
	if err != nil {
		return nil, err
	}
	r, err := a.wait(ctx)
	if err != nil {
		return nil, err
	}
	if len(r.Data) == 0 && r.Header.Get("Status") == "503" {
		return nil, nats.ErrNoResponders
	}
	return r, nil
}

func (p *Publisher) forget(token string) {
	p.mu.Lock()
	delete(p.pending, token)
	p.mu.Unlock()
}

// onReply settles the publish a reply is for.
func (p *Publisher) onReply(m *nats.Msg) {
	token := m.Subject[min(len(p.prefix), len(m.Subject)):]
	p.mu.Lock()
	pa := p.pending[token]
	delete(p.pending, token)
	p.mu.Unlock()
	if pa == nil {
		return // timed out or canceled already
	}
	pa.settle(m, nil)
}

// expire fails publishes whose reply is overdue (a sweep, rather than a
// timer per message).
func (p *Publisher) expire() {
	defer close(p.done)
	t := time.NewTicker(max(p.timeout/8, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			var overdue []*pendingAck
			p.mu.Lock()
			for token, pa := range p.pending {
				if now.After(pa.deadline) {
					delete(p.pending, token)
					overdue = append(overdue, pa)
				}
			}
			p.mu.Unlock()
			// Settled outside the lock: a callback may publish again.
			for _, pa := range overdue {
				pa.settle(nil, fmt.Errorf("bus: no reply in time: %w", context.DeadlineExceeded))
			}
		}
	}
}

// Close fails the publishes still waiting, stops the sweep and
// unsubscribes. It is idempotent.
func (p *Publisher) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	waiting := make([]*pendingAck, 0, len(p.pending))
	for token, pa := range p.pending {
		delete(p.pending, token)
		waiting = append(waiting, pa)
	}
	p.mu.Unlock()
	for _, pa := range waiting {
		pa.settle(nil, ErrPublisherClosed)
	}
	close(p.stop)
	<-p.done
	_ = p.sub.Unsubscribe()
}

// parsePubAck reads a JetStream publish reply. The common reply,
// {"stream":"NAME","seq":N} (maybe with "domain" and "duplicate"), is
// read by scanning for "seq"; everything else — an error, a reply that
// does not look like that — is decoded with encoding/json, so the fast
// path only ever agrees with the slow one (FuzzParsePubAck).
func parsePubAck(m *nats.Msg) (uint64, error) {
	if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
		return 0, jetstream.ErrNoStreamResponse
	}
	if seq, ok := scanPubAck(m.Data); ok {
		return seq, nil
	}
	return decodePubAck(m.Data)
}

// scanPubAck is the fast path: ok only for a reply that starts with a
// stream name, has no "error" and a plain decimal "seq".
func scanPubAck(b []byte) (uint64, bool) {
	const head = `{"stream":"`
	if !bytes.HasPrefix(b, []byte(head)) || len(b) == len(head) || b[len(head)] == '"' ||
		bytes.Contains(b, []byte(`"error"`)) || bytes.IndexByte(b, '\\') >= 0 {
		return 0, false
	}
	i := bytes.Index(b, []byte(`,"seq":`))
	if i < 0 || bytes.Count(b, []byte(`"seq"`)) != 1 {
		return 0, false
	}
	rest := b[i+len(`,"seq":`):]
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	if n == 0 || n > 20 || n < len(rest) && rest[n] != ',' && rest[n] != '}' {
		return 0, false
	}
	seq, err := strconv.ParseUint(string(rest[:n]), 10, 64)
	if err != nil || seq == 0 || !json.Valid(b) {
		return 0, false
	}
	return seq, true
}

// decodePubAck is the slow path: the reply decoded in full.
func decodePubAck(b []byte) (uint64, error) {
	var r struct {
		Stream string              `json:"stream"`
		Seq    uint64              `json:"seq"`
		Error  *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, fmt.Errorf("bus: reading PubAck: %w", err)
	}
	if r.Error != nil {
		return 0, r.Error
	}
	if r.Stream == "" {
		return 0, fmt.Errorf("bus: reading PubAck: %w", jetstream.ErrInvalidJSAck)
	}
	return r.Seq, nil
}
