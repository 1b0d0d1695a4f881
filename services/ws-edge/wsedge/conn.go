package wsedge

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/relaybus/relaybus/pkg/wire"
	"github.com/relaybus/relaybus/services/ws-edge/internal/ndjson"
)

// Buffer sizes of one socket.
const (
	readChunk     = 64 << 10  // bytes read from a message at a time
	maxBatch      = 256 << 10 // the writer stops coalescing beyond this
	outQueue      = 4096      // frames waiting for the writer
	headerReserve = 16 << 10  // room kept for headers under NATS max_payload
)

// outItem is one thing for the writer to do.
type outItem struct {
	ack   string        // write inbound_ack for this bufferId
	frame []byte        // write this encoded frame (with its newline)
	w     *waiter       // the outbound request waiting for frame's result
	done  chan error    // told once frame is written (or failed)
	flush chan struct{} // closed once everything queued before it is written
	close bool          // write close 1000 and stop
}

// conn is one connector socket: a reader goroutine (frames in), a writer
// goroutine (the only one writing data messages), and the state the dial
// loop watches.
type conn struct {
	s        *Service
	ws       *websocket.Conn
	id       uint64
	dialedAt time.Time
	out      chan outItem

	done     chan struct{} // closed when the reader has exited
	doneOnce sync.Once
	writerUp chan struct{} // closed when the writer has exited
	maxFrame int           // the frame size limit on this socket

	hs         chan struct{} // closed by the first descriptor
	hsOnce     sync.Once
	handshaken atomic.Bool
	idleAck    chan struct{}
	idleOnce   sync.Once

	// readMu is held by the reader while it hands a chunk to the splitter;
	// drain takes it to stop reading between two frames.
	readMu   sync.Mutex
	stopRead atomic.Bool

	// waitersFailed is set (under the waiters lock) once the socket's
	// outbound waiters were failed; no new waiter may register then.
	waitersFailed bool

	errMu     sync.Mutex
	closeCode int
	closeText string
	readErr   error
}

func newConn(s *Service, ws *websocket.Conn, id uint64) *conn {
	maxFrame := s.cfg.MaxFrameBytes
	if mp := int(s.NC.MaxPayload()); mp > 2*headerReserve && mp-headerReserve < maxFrame {
		maxFrame = mp - headerReserve // a larger frame could never be published
	}
	return &conn{
		maxFrame: maxFrame,
		s:        s,
		ws:       ws,
		id:       id,
		dialedAt: s.Now(),
		out:      make(chan outItem, outQueue),
		done:     make(chan struct{}),
		writerUp: make(chan struct{}),
		hs:       make(chan struct{}),
		idleAck:  make(chan struct{}),
	}
}

// send queues an item for the writer; false when the socket is gone.
func (c *conn) send(it outItem) bool {
	select {
	case <-c.done:
		return false
	default:
	}
	select {
	case c.out <- it:
		return true
	case <-c.done:
		return false
	}
}

func (c *conn) finish() { c.doneOnce.Do(func() { close(c.done) }) }

func (c *conn) handshake() {
	c.hsOnce.Do(func() {
		c.handshaken.Store(true)
		close(c.hs)
	})
}

func (c *conn) idleAcked() { c.idleOnce.Do(func() { close(c.idleAck) }) }

// closeInfo returns the close code and reason the connector sent (1006 when
// the socket just died).
func (c *conn) closeInfo() (int, string, error) {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.closeCode, c.closeText, c.readErr
}

func (c *conn) setReadErr(err error) {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	if c.readErr != nil {
		return
	}
	c.readErr = err
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		c.closeCode, c.closeText = ce.Code, ce.Text
	} else {
		c.closeCode = websocket.CloseAbnormalClosure
	}
}

// frameHandler adapts a conn to ndjson.Handler without a closure per frame.
type frameHandler struct{ c *conn }

func (h frameHandler) Frame(b []byte) { h.c.s.handleFrame(h.c, b) }
func (h frameHandler) Oversized(prefix []byte, size int) {
	h.c.s.handleOversized(h.c, prefix, size)
}

// readLoop reads messages until the socket fails, splitting them into
// frames. It reads each message in chunks into one reusable buffer.
func (c *conn) readLoop() {
	defer c.finish()
	sp := ndjson.New(c.maxFrame)
	h := frameHandler{c}
	buf := make([]byte, readChunk)
	for {
		_, r, err := c.ws.NextReader()
		if err != nil {
			c.setReadErr(err)
			return
		}
		for {
			n, err := r.Read(buf)
			if n > 0 {
				c.readMu.Lock()
				sp.Feed(buf[:n], h)
				c.readMu.Unlock()
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				c.setReadErr(err)
				return
			}
		}
	}
}

// writeLoop owns the socket's data writes: it coalesces every queued frame
// into one text message, and sends the pings.
func (c *conn) writeLoop() {
	defer close(c.writerUp)
	s := c.s
	ping := time.NewTicker(s.cfg.PingInterval)
	defer ping.Stop()
	buf := make([]byte, 0, 64<<10)
	var dones []chan error
	var flushes []chan struct{}
	for {
		var first outItem
		select {
		case <-c.done:
			return
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.cfg.WriteTimeout)); err != nil {
				c.fail(err)
				return
			}
			continue
		case first = <-c.out:
		}
		buf, dones, flushes = buf[:0], dones[:0], flushes[:0]
		acks, closing := 0, false
		// Once the reader is gone the socket is closed or closing: a frame
		// whose request waits for a result is not begun then, so that its
		// request answers "not connected" (never written) and is retried,
		// not "connection lost".
		gone := false
		select {
		case <-c.done:
			gone = true
		default:
		}
		add := func(it outItem) {
			switch {
			case it.close:
				closing = true
			case it.flush != nil:
				flushes = append(flushes, it.flush)
			case it.ack != "":
				buf = wire.AppendInboundAck(buf, it.ack)
				acks++
			case it.w != nil && (gone || !it.w.begin()):
				// The socket is gone, or its request gave up while it was
				// queued: never write it.
			default:
				buf = append(buf, it.frame...)
				if it.done != nil {
					dones = append(dones, it.done)
				}
			}
		}
		add(first)
	more:
		for !closing && len(buf) < maxBatch {
			select {
			case it := <-c.out:
				add(it)
			default:
				break more
			}
		}
		var err error
		if len(buf) > 0 {
			_ = c.ws.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
			err = c.ws.WriteMessage(websocket.TextMessage, buf)
		}
		for _, d := range dones {
			d <- err
		}
		if err != nil {
			c.fail(err)
			return
		}
		s.m.acks.Add(float64(acks))
		for _, f := range flushes {
			close(f)
		}
		if closing {
			msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "going idle")
			if err := c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(s.cfg.WriteTimeout)); err != nil {
				c.fail(err)
			}
			return
		}
		if cap(buf) > 4*maxBatch {
			buf = make([]byte, 0, 64<<10) // do not keep a huge outbound frame's buffer
		}
	}
}

// fail tears the socket down after a write error; the reader then exits.
func (c *conn) fail(err error) {
	c.s.Log.Debug("relay socket write failed", "conn_id", c.id, "err", err)
	_ = c.ws.Close()
}

// closeNow writes a close frame (best effort) and drops the socket.
func (c *conn) closeNow(code int, reason string) {
	msg := websocket.FormatCloseMessage(code, reason)
	_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	_ = c.ws.Close()
}

// stopReading makes the reader drop every data frame from now on; when it
// returns, no frame is being handled.
func (c *conn) stopReading() {
	c.readMu.Lock()
	c.stopRead.Store(true)
	c.readMu.Unlock()
}

// flush waits until everything queued so far is written, or timeout.
func (c *conn) flush(timeout time.Duration) bool {
	ch := make(chan struct{})
	if !c.send(outItem{flush: ch}) {
		return false
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-c.done:
		return false
	case <-t.C:
		return false
	}
}

// isTimeout reports a network timeout (the pong deadline).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
