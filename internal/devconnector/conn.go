package devconnector

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/wire"
)

// outMsg is one unbuffered outgoing frame; raw ones are written alone and
// verbatim, the others may be coalesced with their neighbours.
type outMsg struct {
	data []byte
	raw  bool
}

// gwConn is one gateway socket. The HTTP handler goroutine that upgraded it
// is its reader; writeLoop is its only writer of data messages. Control
// frames (close, ping, pong) use WriteControl, which gorilla allows
// concurrently.
type gwConn struct {
	s         *Server
	ws        *websocket.Conn
	id        uint64
	gatewayID string

	out        chan outMsg
	notify     chan struct{} // capacity 1: "the buffer may have frames for you"
	done       chan struct{} // closed when the reader has exited
	writerDone chan struct{} // closed when the writer has exited
	closing    atomic.Bool   // a close frame was sent; waiting for the echo
	abortOnce  sync.Once

	// Guarded by s.mu.
	streaming bool   // pull from the replay buffer (after hello, not idle, active)
	idle      bool   // going_idle received
	hellos    int    // hello frames received
	cursor    uint64 // next replay-buffer position to send
}

// handleRelay serves GET /relay: authenticate, upgrade, then run the socket.
func (s *Server) handleRelay(w http.ResponseWriter, r *http.Request) {
	gatewayID, authErr := s.authenticate(r)
	if !s.track() {
		http.Error(w, "connector shutting down", http.StatusServiceUnavailable)
		return
	}
	defer s.wg.Done()
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		// Upgrade has answered the request with an HTTP error.
		s.log.Warn("websocket upgrade failed", "err", err, "remote", r.RemoteAddr)
		return
	}
	ws.SetReadLimit(maxFrameBytes)
	// A hijacked connection keeps the deadlines the HTTP server set for the
	// request (its read and write timeouts): clear them, or a long-lived
	// socket would die when they pass. From here on every read and write
	// sets its own (keepalive and write deadlines).
	_ = ws.NetConn().SetDeadline(time.Time{})
	if authErr != nil {
		reason := "unauthorized"
		if errors.Is(authErr, wire.ErrTokenExpired) {
			reason = "expired"
		}
		s.mu.Lock()
		s.stats.Refused++
		s.mu.Unlock()
		s.log.Warn("gateway refused", "reason", reason, "err", authErr, "remote", r.RemoteAddr)
		s.refuse(ws, reason)
		return
	}
	c := &gwConn{
		s:          s,
		ws:         ws,
		id:         s.connSeq.Add(1),
		gatewayID:  gatewayID,
		out:        make(chan outMsg, outQueue),
		notify:     make(chan struct{}, 1),
		done:       make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	replaced, ok := s.attach(c)
	if !ok {
		close(c.done)
		close(c.writerDone)
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "connector shutting down"), time.Now().Add(time.Second))
		_ = ws.Close()
		return
	}
	if replaced != nil {
		s.log.Info("gateway socket replaced", "conn", replaced.id, "by", c.id)
		replaced.beginClose(CloseReplaced, "replaced")
	}
	s.log.Info("gateway connected", "conn", c.id, "gateway_id", gatewayID, "remote", r.RemoteAddr)

	go c.writeLoop()
	err = c.readLoop()
	close(c.done)
	s.detach(c)
	c.abort()
	<-c.writerDone
	s.log.Info("gateway disconnected", "conn", c.id, "gateway_id", gatewayID, "err", err)
}

// authenticate checks the Bearer token when gateways are configured.
func (s *Server) authenticate(r *http.Request) (string, error) {
	if len(s.cfg.Gateways) == 0 {
		return "", nil
	}
	h := r.Header.Get("Authorization")
	const scheme = "bearer "
	if len(h) <= len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return "", errors.New("no bearer token")
	}
	token := h[len(scheme):]
	lookup := func(id string) (string, bool) { secret, ok := s.cfg.Gateways[id]; return secret, ok }
	id, _, err := wire.VerifyToken(strings.TrimSpace(token), lookup, s.cfg.Now())
	return id, err
}

// refuse closes a freshly upgraded socket with 4401 and reason, then reads
// until the peer's echo (or closeWait) so that the close frame is not lost
// to a reset.
func (s *Server) refuse(ws *websocket.Conn, reason string) {
	_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(CloseUnauthorized, reason), time.Now().Add(writeWait))
	_ = ws.NetConn().SetReadDeadline(time.Now().Add(closeWait))
	for {
		if _, _, err := ws.NextReader(); err != nil {
			break
		}
	}
	_ = ws.Close()
}

// attach makes c the active socket, returning the one it replaced. It
// fails after Close.
func (s *Server) attach(c *gwConn) (replaced *gwConn, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false
	}
	replaced = s.active
	if replaced != nil {
		replaced.streaming = false
	}
	s.active = c
	s.conns[c] = struct{}{}
	s.stats.Connections++
	s.wakeLocked()
	return replaced, true
}

// detach forgets c once its reader has exited.
func (s *Server) detach(c *gwConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	c.streaming = false
	if s.active == c {
		s.active = nil
	}
	s.wakeLocked()
}

// beginClose sends a close frame and gives the peer closeWait to echo it;
// the reader then exits and the socket is torn down.
func (c *gwConn) beginClose(code int, reason string) {
	if !c.closing.CompareAndSwap(false, true) {
		return
	}
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(writeWait))
	_ = c.ws.NetConn().SetReadDeadline(time.Now().Add(closeWait))
}

// abort closes the network connection without a close frame.
func (c *gwConn) abort() {
	c.abortOnce.Do(func() { _ = c.ws.NetConn().Close() })
}

// extendDeadline pushes the read deadline out after any sign of life,
// unless the socket is closing.
func (c *gwConn) extendDeadline() {
	if c.closing.Load() {
		return
	}
	_ = c.ws.NetConn().SetReadDeadline(time.Now().Add(c.s.cfg.PongWait))
	if c.closing.Load() {
		// beginClose ran concurrently: restore its short deadline.
		_ = c.ws.NetConn().SetReadDeadline(time.Now().Add(closeWait))
	}
}

func (c *gwConn) readerDone() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// kick tells the writer that buffered frames may be waiting.
func (c *gwConn) kick() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// send queues an unbuffered message, blocking while the queue is full.
func (c *gwConn) send(ctx context.Context, m outMsg) error {
	select {
	case c.out <- m:
		return nil
	case <-c.writerDone:
		return ErrNotConnected
	case <-ctx.Done():
		return ctx.Err()
	}
}

// readLoop reads messages until the socket fails, splitting them into
// frames.
func (c *gwConn) readLoop() error {
	ws := c.ws
	c.extendDeadline()
	ws.SetPongHandler(func(string) error { c.extendDeadline(); return nil })
	ws.SetPingHandler(func(data string) error {
		c.extendDeadline()
		err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(writeWait))
		var ne net.Error
		if err == nil || errors.Is(err, websocket.ErrCloseSent) || errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		return err
	})
	sp := lineSplitter{max: maxFrameBytes}
	var msg bytes.Buffer
	for {
		_, r, err := ws.NextReader()
		if err != nil {
			return err
		}
		msg.Reset()
		if _, err := msg.ReadFrom(r); err != nil {
			return err
		}
		c.extendDeadline()
		if n := sp.feed(msg.Bytes(), c.handleFrame); n > 0 {
			c.s.mu.Lock()
			c.s.stats.Malformed += uint64(n)
			c.s.mu.Unlock()
			c.s.log.Warn("gateway frame dropped", "conn", c.id, "reason", events.ReasonOversized)
		}
		if msg.Cap() > 4*maxBatchBytes {
			msg = bytes.Buffer{} // do not keep a huge buffer alive
		}
	}
}

// writeLoop is the socket's only writer of data messages.
func (c *gwConn) writeLoop() {
	defer close(c.writerDone)
	ping := time.NewTicker(c.s.cfg.PingInterval)
	defer ping.Stop()
	w := batchWriter{c: c, buf: make([]byte, 0, maxBatchBytes)}
	for {
		var err error
		select {
		case <-c.done:
			return
		case m := <-c.out:
			err = w.run(&m)
		case <-c.notify:
			err = w.run(nil)
		case <-ping.C:
			err = c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait))
		}
		if err != nil {
			if !c.closing.Load() && !c.readerDone() {
				c.s.log.Warn("gateway write failed", "conn", c.id, "err", err)
				c.abort()
			}
			return
		}
	}
}

// batchWriter coalesces queued frames and buffered frames into as few text
// messages as possible.
type batchWriter struct {
	c   *gwConn
	buf []byte
}

// run writes first (if any), everything else queued, then what the replay
// buffer holds for this socket.
func (w *batchWriter) run(first *outMsg) error {
	if first != nil {
		if err := w.add(*first); err != nil {
			return err
		}
	}
	// Drain the queue before pulling the buffer: a descriptor queued by
	// hello must precede the replay it enables. The bound keeps a busy
	// queue from starving the buffer.
drain:
	for range outQueue {
		select {
		case m := <-w.c.out:
			if err := w.add(m); err != nil {
				return err
			}
		default:
			break drain
		}
	}
	more := w.c.s.pull(w.c, &w.buf)
	if err := w.flush(); err != nil {
		return err
	}
	if more {
		w.c.kick()
	}
	return nil
}

func (w *batchWriter) add(m outMsg) error {
	if m.raw {
		if err := w.flush(); err != nil {
			return err
		}
		return w.write(m.data)
	}
	w.buf = append(w.buf, m.data...)
	if len(w.buf) >= maxBatchBytes {
		return w.flush()
	}
	return nil
}

func (w *batchWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	err := w.write(w.buf)
	if cap(w.buf) > 4*maxBatchBytes {
		w.buf = make([]byte, 0, maxBatchBytes)
	} else {
		w.buf = w.buf[:0]
	}
	return err
}

func (w *batchWriter) write(b []byte) error {
	if err := w.c.ws.SetWriteDeadline(time.Now().Add(writeWait)); err != nil {
		return err
	}
	return w.c.ws.WriteMessage(websocket.TextMessage, b)
}

// pull appends to *dst the buffered frames c has not been sent yet, if c is
// streaming, up to maxBatchBytes in total. It reports whether more remain.
func (s *Server) pull(c *gwConn, dst *[]byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !c.streaming {
		return false
	}
	var more bool
	*dst, c.cursor, more = s.buf.pull(*dst, c.cursor, maxBatchBytes)
	return more
}

// lineSplitter splits a stream of messages into newline-terminated frames.
// A frame may span messages and a message may hold several frames; a frame
// longer than max is discarded up to its newline.
type lineSplitter struct {
	max        int
	pending    []byte
	discarding bool
}

// feed splits data, calling fn for each complete non-blank line (without
// its newline; fn must not keep the slice), and returns how many oversized
// frames were discarded.
func (sp *lineSplitter) feed(data []byte, fn func([]byte)) (oversized int) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			if sp.discarding {
				return oversized
			}
			if len(sp.pending)+len(data) > sp.max {
				sp.pending = nil
				sp.discarding = true
				return oversized + 1
			}
			sp.pending = append(sp.pending, data...)
			return oversized
		}
		line := data[:i]
		data = data[i+1:]
		switch {
		case sp.discarding:
			sp.discarding = false
			continue
		case len(sp.pending) > 0:
			if len(sp.pending)+len(line) > sp.max {
				sp.pending = sp.pending[:0]
				oversized++
				continue
			}
			sp.pending = append(sp.pending, line...)
			line = sp.pending
			sp.pending = sp.pending[:0]
			if cap(sp.pending) > 1<<20 {
				sp.pending = nil // line keeps the big array alive until fn returns
			}
		case len(line) > sp.max:
			oversized++
			continue
		}
		if t := bytes.TrimSpace(line); len(t) > 0 {
			fn(t)
		}
	}
	return oversized
}
