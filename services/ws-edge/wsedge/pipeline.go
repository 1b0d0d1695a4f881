package wsedge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/redact"
	"github.com/relaybus/relaybus/pkg/backoff"
	"github.com/relaybus/relaybus/pkg/events"
)

// pubItem is one publish in flight: a raw frame or a dead letter.
type pubItem struct {
	msg      *nats.Msg
	paf      jetstream.PubAckFuture
	err      error // the publish failed before it left (no future)
	c        *conn // the socket the frame came in on (acks prefer it)
	bufferID string
	start    time.Time
	dlq      bool
	chat     string // the frame's chat: its publishes go out one at a time
}

var itemPool = sync.Pool{New: func() any { return new(pubItem) }}

// maxPooledData is the largest message body kept for reuse; most frames are
// a few kilobytes, and a rare huge one should not pin its memory.
const maxPooledData = 64 << 10

var dataPool sync.Pool // of *[]byte

// copyData returns a copy of b in a pooled buffer; the buffer goes back to
// the pool when its publish is over (JetStream has the bytes by then, and
// no retry can need them any more).
func copyData(b []byte) []byte {
	if bp, ok := dataPool.Get().(*[]byte); ok && cap(*bp) >= len(b) {
		return append((*bp)[:0], b...)
	}
	return append(make([]byte, 0, max(len(b), 4096)), b...)
}

func recycleData(b []byte) {
	if c := cap(b); c > 0 && c <= maxPooledData {
		b = b[:0]
		dataPool.Put(&b)
	}
}

// pipeline pipelines JetStream publishes: the reader publishes with
// PublishMsgAsync and queues the future; one completion goroutine takes the
// futures in order and, for buffered frames, writes inbound_ack through the
// socket's writer once JetStream acknowledged the publish. slots bounds the
// publishes in flight (the window); a reader that finds it full blocks,
// which pauses reading the socket: backpressure down to TCP.
//
// A failed publish is retried by a goroutine of its own (at most one per
// window slot), so one item that keeps failing never delays another's
// retries. A publish the server can never take (larger than its max
// payload) is not retried: its frame is dead-lettered instead.
//
// Frames of one chat are published one at a time, in the order read: the
// next waits (holding its slot) until the one before is stored, retries
// included. Otherwise a publish that failed (a stream leader lost) and was
// retried would be stored after a later frame of its chat that went
// through: per-chat order would break (docs/adr/0001-bus-contract.md §13).
// Different chats are pipelined as before.
type pipeline struct {
	s        *Service
	slots    chan struct{}
	queue    chan *pubItem
	inflight atomic.Int64
	idle     chan struct{} // signalled when inflight drops to zero
	quit     chan struct{}
	ctx      context.Context // cancelled by stop: ends retries' publishes
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once

	// debug: the log takes a line per publish and PubAck.
	debug bool

	chatMu sync.Mutex
	chats  map[string][]*pubItem // per chat with a publish out: the frames waiting behind it
}

func newPipeline(s *Service) *pipeline {
	w := s.cfg.PublishWindow
	ctx, cancel := context.WithCancel(context.Background())
	return &pipeline{
		s:      s,
		slots:  make(chan struct{}, w),
		queue:  make(chan *pubItem, w),
		idle:   make(chan struct{}, 1),
		quit:   make(chan struct{}),
		ctx:    ctx,
		cancel: cancel,
		chats:  make(map[string][]*pubItem),
		debug:  s.Log.Enabled(context.Background(), slog.LevelDebug),
	}
}

func (p *pipeline) start() {
	p.wg.Add(1)
	go p.completions()
}

// publish sends one message; it blocks while the window is full.
func (p *pipeline) publish(c *conn, msg *nats.Msg, bufferID string, start time.Time, dlq bool) {
	p.slots <- struct{}{}
	n := p.inflight.Add(1)
	p.s.m.inflight.Set(float64(n))
	it := itemPool.Get().(*pubItem)
	*it = pubItem{msg: msg, c: c, bufferID: bufferID, start: start, dlq: dlq}
	it.paf, it.err = p.s.JS.PublishMsgAsync(msg)
	p.queue <- it
}

// publishChat publishes a frame of chat after the chat's earlier frames
// are stored; it blocks while the window is full.
func (p *pipeline) publishChat(c *conn, msg *nats.Msg, chat, bufferID string, start time.Time) {
	p.slots <- struct{}{}
	n := p.inflight.Add(1)
	p.s.m.inflight.Set(float64(n))
	it := itemPool.Get().(*pubItem)
	*it = pubItem{msg: msg, c: c, bufferID: bufferID, start: start, chat: chat}
	p.chatMu.Lock()
	if waiting, busy := p.chats[chat]; busy {
		p.chats[chat] = append(waiting, it)
		p.chatMu.Unlock()
		if p.debug {
			p.s.Log.Debug("frame waits behind its chat's publish", "chat", chat, "buffer_id", redact.Clip(bufferID, maxLoggedID), "waiting", len(waiting)+1)
		}
		return
	}
	p.chats[chat] = nil
	p.chatMu.Unlock()
	it.paf, it.err = p.s.JS.PublishMsgAsync(msg)
	if p.debug {
		p.s.Log.Debug("frame published", "chat", chat, "buffer_id", redact.Clip(bufferID, maxLoggedID), "err", it.err)
	}
	p.queue <- it
}

// chatDone publishes the next frame waiting behind a finished one of the
// same chat. The finished item has left the queue and still holds its
// slot, so the queue has room.
func (p *pipeline) chatDone(chat string) {
	p.chatMu.Lock()
	waiting := p.chats[chat]
	select {
	case <-p.quit:
		// Stopping: the waiting frames are not published (buffered ones
		// stay un-acked: the connector replays them).
		delete(p.chats, chat)
		p.chatMu.Unlock()
		for _, it := range waiting {
			it.chat = ""
			p.release(it)
		}
		return
	default:
	}
	if len(waiting) == 0 {
		delete(p.chats, chat)
		p.chatMu.Unlock()
		return
	}
	next := waiting[0]
	waiting[0] = nil
	p.chats[chat] = waiting[1:]
	p.chatMu.Unlock()
	next.paf, next.err = p.s.JS.PublishMsgAsync(next.msg)
	if p.debug {
		p.s.Log.Debug("frame published after its chat's last", "chat", chat, "buffer_id", redact.Clip(next.bufferID, maxLoggedID), "err", next.err)
	}
	p.queue <- next
}

// release ends an item's life and frees its slot (publishing the next
// frame of its chat).
func (p *pipeline) release(it *pubItem) {
	if it.chat != "" {
		p.chatDone(it.chat)
	}
	recycleData(it.msg.Data)
	*it = pubItem{}
	itemPool.Put(it)
	<-p.slots
	n := p.inflight.Add(-1)
	p.s.m.inflight.Set(float64(n))
	if n == 0 {
		select {
		case p.idle <- struct{}{}:
		default:
		}
	}
}

// completions hands every queued item to complete until quit closes.
func (p *pipeline) completions() {
	defer p.wg.Done()
	for {
		select {
		case it := <-p.queue:
			p.complete(it)
		case <-p.quit:
			return
		}
	}
}

func (p *pipeline) complete(it *pubItem) {
	err := it.err
	var ack *jetstream.PubAck
	if err == nil {
		select {
		case ack = <-it.paf.Ok():
		case err = <-it.paf.Err():
		}
	}
	if err != nil {
		p.failed(it, err)
		return
	}
	p.stored(it, ack)
}

// stored finishes a frame JetStream stored: its publish latency, whether
// the stream had it already, the connector's ack of a buffered frame, and
// its window slot.
func (p *pipeline) stored(it *pubItem, ack *jetstream.PubAck) {
	s := p.s
	s.m.publishSeconds.Observe(s.Now().Sub(it.start).Seconds())
	if ack.Duplicate {
		s.m.duplicates.Inc()
	}
	if p.debug {
		s.Log.Debug("frame stored", "chat", it.chat, "buffer_id", redact.Clip(it.bufferID, maxLoggedID), "stream_seq", ack.Sequence, "duplicate", ack.Duplicate)
	}
	if it.bufferID != "" {
		s.ack(it.c, it.bufferID)
	}
	p.release(it)
}

// failed handles a publish JetStream did not acknowledge: it is retried by
// a goroutine of its own, keeping its window slot. A buffered frame is
// retried until it is stored (then acked) or ws-edge shuts down: the
// connector replays un-acked frames only after a reconnect, so while the
// socket stays up nobody else would ever deliver it. An unbuffered frame
// gets PublishRetries more attempts. A frame the server refuses as larger
// than its max payload is dead-lettered at once (permanent).
func (p *pipeline) failed(it *pubItem, err error) {
	s := p.s
	s.m.publishFailed.Inc()
	if p.permanent(it, err) {
		return
	}
	if it.bufferID == "" && s.cfg.PublishRetries == 0 {
		p.lost(it, err)
		return
	}
	s.Log.Warn("publish failed; retrying", "subject", it.msg.Subject, "buffer_id", redact.Clip(it.bufferID, maxLoggedID), "err", redact.Clip(err.Error(), maxLoggedErr))
	it.err = err
	p.wg.Add(1) // the completion goroutine holds the group: never zero here
	go func() {
		defer p.wg.Done()
		p.retryOne(it) // keeps its slot until the retries end
	}()
}

// permanent handles a publish that can never succeed: a message over the
// server's max payload. A frame is dead-lettered in its place (the dead
// letter is cut to fit, and its bufferId acked once it is stored: the
// connector could only replay it into the same refusal); a dead letter
// that does not fit either is given up. It reports whether err was such a
// failure.
func (p *pipeline) permanent(it *pubItem, err error) bool {
	if !errors.Is(err, nats.ErrMaxPayload) {
		return false
	}
	s := p.s
	if it.dlq {
		p.lost(it, err)
		return true
	}
	s.m.badFrames.WithLabelValues(events.ReasonOversized).Inc()
	cause := &events.FrameError{Reason: events.ReasonOversized, Detail: fmt.Sprintf(
		"a frame of %d bytes with %d bytes of headers exceeds the server's max payload of %d bytes",
		len(it.msg.Data), headerSize(it.msg.Header), s.NC.MaxPayload())}
	if ok, suppressed := s.badLog.allow(events.ReasonOversized); ok {
		s.Log.Warn("bad frame dead-lettered", "reason", events.ReasonOversized, "err", cause.Error(),
			"buffer_id", redact.Clip(it.bufferID, maxLoggedID), "bytes", len(it.msg.Data), "suppressed_since_last", suppressed)
	}
	dl, _ := bus.DeadLetterMsg(events.StageWSEdge, it.msg.Subject, it.msg.Data, it.msg.Header, it.bufferID, cause, s.NC.MaxPayload())
	if len(dl.Data) > 0 && len(it.msg.Data) > 0 && &dl.Data[0] == &it.msg.Data[0] {
		dl.Data = copyData(dl.Data) // it.msg.Data goes back to the pool
	}
	recycleData(it.msg.Data)
	if it.chat != "" {
		// The frame is done (dead-lettered): its chat goes on.
		p.chatDone(it.chat)
		it.chat = ""
	}
	it.msg, it.dlq, it.err = dl, true, nil
	it.paf, it.err = s.JS.PublishMsgAsync(dl)
	// The item holds a slot and is off the queue: there is room for it.
	p.queue <- it
	return true
}

// headerSize is the encoded size of h, roughly as NATS writes it.
func headerSize(h nats.Header) int {
	n := len("NATS/1.0\r\n\r\n")
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

func (p *pipeline) lost(it *pubItem, err error) {
	p.s.m.framesLost.Inc()
	p.s.Log.Error("publish failed after retries; unbuffered frame lost",
		"subject", it.msg.Subject, "dead_letter", it.dlq, "attempts", p.s.cfg.PublishRetries+1, "err", redact.Clip(err.Error(), maxLoggedErr))
	p.release(it)
}

// retryOne publishes a failed item again, synchronously and with a growing
// pause, until it is stored, its attempts are used up, or stop.
func (p *pipeline) retryOne(it *pubItem) {
	s := p.s
	pause := backoff.New(50*time.Millisecond, 2*time.Second, nil)
	err := it.err
	for attempt := 0; it.bufferID != "" || attempt < s.cfg.PublishRetries; attempt++ {
		select {
		case <-time.After(pause.Next()):
		case <-p.quit:
			if it.bufferID != "" {
				// Not acked: the connector replays it on the next connection.
				s.Log.Warn("shutting down with a buffered frame unpublished; the connector will replay it", "buffer_id", redact.Clip(it.bufferID, maxLoggedID))
				p.release(it)
				return
			}
			p.lost(it, fmt.Errorf("shutting down: %w", err))
			return
		}
		ctx, cancel := context.WithTimeout(p.ctx, s.cfg.PublishTimeout)
		var ack *jetstream.PubAck
		ack, err = s.JS.PublishMsg(ctx, it.msg)
		cancel()
		if p.permanent(it, err) {
			return
		}
		if err == nil {
			p.stored(it, ack)
			return
		}
		s.m.publishFailed.Inc()
	}
	p.lost(it, err)
}

// waitIdle waits until no publish is in flight or timeout passes; it
// reports whether the pipeline is idle.
func (p *pipeline) waitIdle(timeout time.Duration) bool {
	return waitZero(&p.inflight, p.idle, timeout)
}

// waitZero waits until n is zero (idle is signalled when it drops to zero)
// or timeout passes; it reports whether n is zero.
func waitZero(n *atomic.Int64, idle <-chan struct{}, timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for n.Load() > 0 {
		select {
		case <-idle:
		case <-t.C:
			return n.Load() == 0
		}
	}
	return true
}

// stop waits for in-flight publishes (bounded), then ends the goroutines.
// No publish may start after stop.
func (p *pipeline) stop(timeout time.Duration) {
	p.stopOnce.Do(func() {
		if !p.waitIdle(timeout) {
			p.s.Log.Error("publishes still in flight at shutdown; buffered ones will be replayed by the connector",
				"inflight", p.inflight.Load())
		}
		close(p.quit)
		p.cancel()
		p.wg.Wait()
	})
}
