package devconnector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/relaybus/relaybus/pkg/events"
)

// Tuning constants.
const (
	writeWait     = 10 * time.Second // deadline of one write on a socket
	closeWait     = 2 * time.Second  // how long a closing socket waits for the peer's close echo
	shutdownWait  = 2 * time.Second  // how long Close waits for HTTP handlers and sockets
	outQueue      = 1024             // per-socket queue of unbuffered outgoing frames
	maxBatchBytes = 64 << 10         // a coalesced text message stops growing here
	maxFrameBytes = 16 << 20         // longest gateway frame (and longest WS message) accepted
	maxBodyBytes  = 16 << 20         // longest HTTP request body accepted
)

// Record is one outbound frame the gateway sent, with the result the dev
// connector answered.
type Record struct {
	// RequestID is the outbound frame's requestId.
	RequestID string `json:"requestId"`
	// Action is the decoded action (zero when it did not decode).
	Action events.Action `json:"-"`
	// RawAction is the action object exactly as received; it is what GET
	// /outbound shows as "action".
	RawAction json.RawMessage `json:"action"`
	// Platform and BotID are the envelope's optional identity fields.
	Platform string `json:"platform,omitempty"`
	BotID    string `json:"botId,omitempty"`
	// GatewayID is the authenticated gateway ("" in unauthenticated mode).
	GatewayID string `json:"gateway_id,omitempty"`
	// Result is what was answered in outbound_result.
	Result map[string]any `json:"result"`
	// ReceivedAt is when the frame was read (Config.Now).
	ReceivedAt time.Time `json:"received_at"`
}

// InterruptRecord is one interrupt frame the gateway sent.
type InterruptRecord struct {
	SessionKey string    `json:"session_key"`
	Reason     *string   `json:"reason"`
	GatewayID  string    `json:"gateway_id,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
}

// Hello is one hello frame the gateway sent.
type Hello struct {
	Platform  string    `json:"platform"`
	BotID     string    `json:"botId"`
	GatewayID string    `json:"gateway_id,omitempty"`
	At        time.Time `json:"at"`
}

// State is a snapshot of the server's counters, served on GET /state.
type State struct {
	// Connected reports an active gateway socket; GatewayID names it.
	Connected bool   `json:"connected"`
	GatewayID string `json:"gateway_id"`
	// Handshaken reports that the active socket sent hello; Idle that it
	// sent going_idle.
	Handshaken bool `json:"handshaken"`
	Idle       bool `json:"idle"`
	// Connections counts accepted (authenticated) sockets; Refused counts
	// sockets closed with 4401.
	Connections uint64 `json:"connections"`
	Refused     uint64 `json:"refused"`
	// Buffered is the number of un-acked buffered frames; Acked, Dropped
	// (replay buffer full), Replayed (sent again on a later connection) and
	// UnknownAcks count buffer events.
	Buffered    int    `json:"buffered"`
	Acked       uint64 `json:"acked"`
	Dropped     uint64 `json:"dropped"`
	Replayed    uint64 `json:"replayed"`
	UnknownAcks uint64 `json:"unknown_acks"`
	// OutboundCount counts outbound frames, Interrupts interrupt frames,
	// Hellos hello frames.
	OutboundCount uint64 `json:"outbound_count"`
	Interrupts    uint64 `json:"interrupts"`
	Hellos        uint64 `json:"hellos"`
	// Malformed counts gateway frames that could not be decoded;
	// UnknownFrames frames of a type the connector does not take.
	Malformed     uint64 `json:"malformed"`
	UnknownFrames uint64 `json:"unknown_frames"`
	// Vaulted is the number of interaction tokens in the vault; Pings the
	// Discord PINGs answered inline.
	Vaulted int    `json:"vaulted"`
	Pings   uint64 `json:"pings"`
}

// Server is the dev connector. Create it with New; it is safe for concurrent
// use.
type Server struct {
	cfg      Config
	log      *slog.Logger
	mux      *http.ServeMux
	upgrader websocket.Upgrader

	bufSeq  atomic.Uint64 // bufferId numbers
	msgSeq  atomic.Uint64 // message_id numbers
	connSeq atomic.Uint64

	wg       sync.WaitGroup // every goroutine the server owns
	closedCh chan struct{}

	mu        sync.Mutex
	closed    bool
	started   bool
	ln        net.Listener
	srv       *http.Server
	active    *gwConn
	conns     map[*gwConn]struct{}
	buf       replayBuffer
	vault     tokenVault
	guilds    map[string]string // discord chat id -> guild id
	guildQ    []string          // guild chats in learning order, from guildHead on
	guildHead int
	records   []Record
	irecords  []InterruptRecord
	hellos    []Hello
	stats     State         // counters only; the derived fields are filled by State()
	waitCh    chan struct{} // closed and cleared on every change a waiter may want
}

// New validates cfg, applies its defaults and returns a server that is not
// yet listening: call Start, or mount Handler on a server of your own.
func New(cfg Config) (*Server, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Log,
		closedCh: make(chan struct{}),
		conns:    make(map[*gwConn]struct{}),
		buf:      newReplayBuffer(cfg.ReplayLimit),
		vault:    newTokenVault(cfg.VaultLimit, cfg.FollowUpTTL),
		guilds:   make(map[string]string),
	}
	s.upgrader = websocket.Upgrader{
		ReadBufferSize:  32 << 10,
		WriteBufferSize: 32 << 10,
		// The connector is dialed by gateways, not browsers.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	s.mux = http.NewServeMux()
	s.routes()
	return s, nil
}

// Start listens on Config.Addr and serves in a goroutine the server owns.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return ErrClosed
	case s.started:
		return ErrStarted
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("devconnector: listening on %s: %w", s.cfg.Addr, err)
	}
	s.started = true
	s.ln = ln
	s.srv = &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: min(10*time.Second, s.cfg.HTTPReadTimeout),
		ReadTimeout:       s.cfg.HTTPReadTimeout,
		WriteTimeout:      s.cfg.HTTPWriteTimeout,
		IdleTimeout:       s.cfg.HTTPIdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("serve failed", "err", err)
		}
	}()
	s.log.Info("dev connector listening", "addr", ln.Addr().String(), "authenticated", len(s.cfg.Gateways) > 0)
	return nil
}

// Addr returns the host:port the server listens on, or "" before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// URL returns the base URL a gateway is configured with
// (GATEWAY_RELAY_URL), "http://host:port", or "" before Start.
func (s *Server) URL() string {
	a := s.Addr()
	if a == "" {
		return ""
	}
	return "http://" + a
}

// Handler returns the server's HTTP handler, for mounting on another server.
// Close still closes the gateway sockets it accepted.
func (s *Server) Handler() http.Handler { return s.mux }

// Close stops the listener, closes every gateway socket (with close code
// 1001 and, when the peer does not answer in time, abruptly) and waits for
// every goroutine the server started. Waiters blocked in WaitOutbound,
// WaitConnected and the like return ErrClosed. Close is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	close(s.closedCh)
	srv := s.srv
	conns := make([]*gwConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.active = nil
	s.wakeLocked()
	s.mu.Unlock()

	for _, c := range conns {
		c.beginClose(websocket.CloseGoingAway, "connector shutting down")
	}
	var err error
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
		if serr := srv.Shutdown(ctx); serr != nil {
			err = srv.Close()
		}
		cancel()
	}
	deadline := time.NewTimer(shutdownWait)
	for _, c := range conns {
		select {
		case <-c.done:
		case <-deadline.C:
			// Stop waiting; the remaining sockets are torn down below.
			deadline.Reset(0)
		}
	}
	deadline.Stop()
	for _, c := range conns {
		c.abort()
	}
	s.wg.Wait()
	s.log.Info("dev connector closed")
	return err
}

// track registers a goroutine that Close must wait for; false after Close.
func (s *Server) track() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// wakeLocked wakes every waiter. s.mu must be held.
func (s *Server) wakeLocked() {
	if s.waitCh != nil {
		close(s.waitCh)
		s.waitCh = nil
	}
}

// waitFor blocks until cond (evaluated under s.mu) holds, ctx ends or the
// server closes.
func (s *Server) waitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		if cond() {
			s.mu.Unlock()
			return nil
		}
		if s.closed {
			s.mu.Unlock()
			return ErrClosed
		}
		if s.waitCh == nil {
			s.waitCh = make(chan struct{})
		}
		ch := s.waitCh
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Connected reports whether a gateway socket is active.
func (s *Server) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active != nil
}

// WaitConnected blocks until a gateway socket is active.
func (s *Server) WaitConnected(ctx context.Context) error {
	return s.waitFor(ctx, func() bool { return s.active != nil })
}

// WaitHandshake blocks until the active gateway socket has sent hello (and so
// received its descriptor and the replay).
func (s *Server) WaitHandshake(ctx context.Context) error {
	return s.waitFor(ctx, func() bool { return s.active != nil && s.active.hellos > 0 })
}

// WaitConnections blocks until at least n sockets were accepted in total
// (reconnect tests: n = previous count + 1).
func (s *Server) WaitConnections(ctx context.Context, n uint64) error {
	return s.waitFor(ctx, func() bool { return s.stats.Connections >= n })
}

// Outbound returns the retained outbound records, oldest first (at most
// Config.RecordLimit). The maps inside the records are shared: treat them as
// read-only.
func (s *Server) Outbound() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.outboundLocked()
}

func (s *Server) outboundLocked() []Record {
	r := s.records
	if len(r) > s.cfg.RecordLimit {
		r = r[len(r)-s.cfg.RecordLimit:]
	}
	return append([]Record(nil), r...)
}

// WaitOutbound blocks until at least n outbound frames were received in
// total and returns the retained records.
func (s *Server) WaitOutbound(ctx context.Context, n int) ([]Record, error) {
	var out []Record
	err := s.waitFor(ctx, func() bool {
		if s.stats.OutboundCount < uint64(max(n, 0)) {
			return false
		}
		out = s.outboundLocked()
		return true
	})
	return out, err
}

// Interrupts returns the retained interrupt records, oldest first.
func (s *Server) Interrupts() []InterruptRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.irecords
	if len(r) > s.cfg.RecordLimit {
		r = r[len(r)-s.cfg.RecordLimit:]
	}
	return append([]InterruptRecord(nil), r...)
}

// WaitInterrupts blocks until at least n interrupt frames were received.
func (s *Server) WaitInterrupts(ctx context.Context, n int) error {
	return s.waitFor(ctx, func() bool { return s.stats.Interrupts >= uint64(max(n, 0)) })
}

// Hellos returns the retained hello records, oldest first.
func (s *Server) Hellos() []Hello {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Hello(nil), s.hellos...)
}

// Buffered returns the number of un-acked buffered frames.
func (s *Server) Buffered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.live()
}

// BufferedIDs returns the bufferIds of the un-acked frames, in order.
func (s *Server) BufferedIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.snapshotIDs()
}

// Acked returns the number of buffered frames the gateway acked.
func (s *Server) Acked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int(s.buf.acked)
}

// WaitAcked blocks until at least n buffered frames were acked in total.
func (s *Server) WaitAcked(ctx context.Context, n int) error {
	return s.waitFor(ctx, func() bool { return s.buf.acked >= uint64(max(n, 0)) })
}

// WaitDrained blocks until no un-acked frame is buffered.
func (s *Server) WaitDrained(ctx context.Context) error {
	return s.waitFor(ctx, func() bool { return s.buf.live() == 0 })
}

// State returns a snapshot of the counters.
func (s *Server) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	if c := s.active; c != nil {
		st.Connected = true
		st.GatewayID = c.gatewayID
		st.Handshaken = c.hellos > 0
		st.Idle = c.idle
	}
	st.Buffered = s.buf.live()
	st.Acked = s.buf.acked
	st.Dropped = s.buf.dropped
	st.Replayed = s.buf.replayed
	st.UnknownAcks = s.buf.unknownAcks
	st.Vaulted = s.vault.size()
	return st
}

// DropConnection closes the active gateway socket abruptly, without a close
// frame, as a connector crash or a network loss would. It reports whether a
// socket was active.
func (s *Server) DropConnection() bool {
	c := s.detachActive()
	if c == nil {
		return false
	}
	s.log.Info("gateway socket dropped", "conn", c.id)
	c.abort()
	return true
}

// CloseWith closes the active gateway socket with a close frame carrying
// code and reason (for example 4401 "unauthorized"), then waits briefly for
// the peer's echo in the background. It reports whether a socket was active.
func (s *Server) CloseWith(code int, reason string) bool {
	c := s.detachActive()
	if c == nil {
		return false
	}
	s.log.Info("gateway socket closed", "conn", c.id, "code", code, "reason", reason)
	c.beginClose(code, reason)
	return true
}

func (s *Server) detachActive() *gwConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.active
	if c != nil {
		s.active = nil
		c.streaming = false
		s.wakeLocked()
	}
	return c
}

// Push sends frame to the active gateway socket verbatim as one text
// message (nothing is added, not even a newline). It blocks while the
// socket's queue is full.
func (s *Server) Push(frame []byte) error {
	return s.sendActive(context.Background(), outMsg{data: append([]byte(nil), frame...), raw: true})
}

// EmitUnbuffered sends a frame of type typ with fields to the active gateway
// socket without keeping it for replay. The fields are sent as given: a
// "bufferId" among them is kept, which replays a frame by hand (the gateway
// must treat a bufferId it already stored as a duplicate). Its order
// relative to buffered frames is not guaranteed.
func (s *Server) EmitUnbuffered(typ string, fields map[string]any) error {
	frame, err := marshalFields(typ, fields, "")
	if err != nil {
		return err
	}
	return s.sendActive(context.Background(), outMsg{data: frame})
}

// Emit buffers a frame of type typ with fields plus a fresh bufferId, which it
// returns, and delivers it when a gateway is streaming. The fields "type" and
// "bufferId" are set by Emit. It returns "" when fields cannot be encoded as
// JSON. When the buffer is full the oldest un-acked frame is dropped; use
// EmitContext to wait for room instead.
func (s *Server) Emit(typ string, fields map[string]any) string {
	id := s.newBufferID()
	frame, err := marshalFields(typ, fields, id)
	if err != nil {
		s.log.Warn("emit failed", "type", typ, "err", err)
		return ""
	}
	s.enqueue(id, frame)
	return id
}

// EmitContext is Emit that waits while the replay buffer is full (applying
// backpressure instead of dropping) and reports encoding errors.
func (s *Server) EmitContext(ctx context.Context, typ string, fields map[string]any) (string, error) {
	id := s.newBufferID()
	frame, err := marshalFields(typ, fields, id)
	if err != nil {
		return "", err
	}
	if err := s.enqueueWait(ctx, id, frame); err != nil {
		return "", err
	}
	return id, nil
}

// EmitJSON is Emit for fields already encoded: members is a JSON object
// ({"forward":{...}}) without "type" and "bufferId", which EmitJSON puts in
// front of its members. It lets a load generator build its frames before
// the clock starts; members is not validated beyond being an object (a
// malformed one reaches the gateway as a malformed frame).
func (s *Server) EmitJSON(typ string, members []byte) (string, error) {
	members = bytes.TrimSpace(members)
	if len(members) < 2 || members[0] != '{' || members[len(members)-1] != '}' {
		return "", fmt.Errorf("%w: members are not a JSON object", ErrBadFields)
	}
	id := s.newBufferID()
	s.enqueue(id, AppendFrame(nil, typ, id, members))
	return id, nil
}

// AppendFrame appends the frame of type typ with bufferId id (omitted when
// "") and the members of the JSON object members to dst, newline-ended, as
// Emit writes it. typ and id are quoted as Go strings: plain ASCII ones
// (frame types, bufferIds) are quoted as JSON would.
func AppendFrame(dst []byte, typ, id string, members []byte) []byte {
	members = bytes.TrimSpace(members)
	dst = append(dst, `{"type":`...)
	dst = strconv.AppendQuote(dst, typ)
	if id != "" {
		dst = append(dst, `,"bufferId":`...)
		dst = strconv.AppendQuote(dst, id)
	}
	if rest := bytes.TrimSpace(members[min(1, len(members)):]); len(rest) > 1 {
		dst = append(dst, ',')
		dst = append(dst, rest...)
	} else {
		dst = append(dst, '}')
	}
	return append(dst, '\n')
}

func (s *Server) newBufferID() string {
	return "b-" + strconv.FormatUint(s.bufSeq.Add(1), 10)
}

// enqueue buffers a frame and kicks the streaming socket.
func (s *Server) enqueue(id string, frame []byte) {
	s.mu.Lock()
	s.enqueueLocked(id, frame)
	s.mu.Unlock()
	s.kickStreaming()
}

// kickStreaming wakes the writer of the streaming socket, if any.
func (s *Server) kickStreaming() {
	s.mu.Lock()
	c := s.streamingLocked()
	s.mu.Unlock()
	if c != nil {
		c.kick()
	}
}

// enqueueWait buffers a frame once the buffer has room.
func (s *Server) enqueueWait(ctx context.Context, id string, frame []byte) error {
	err := s.waitFor(ctx, func() bool {
		if s.buf.live() >= s.cfg.ReplayLimit {
			return false
		}
		s.enqueueLocked(id, frame)
		return true
	})
	if err != nil {
		return err
	}
	s.kickStreaming()
	return nil
}

func (s *Server) enqueueLocked(id string, frame []byte) {
	if s.buf.add(id, frame) && s.buf.dropped == 1 {
		s.log.Warn("replay buffer full: dropping the oldest un-acked frames", "limit", s.cfg.ReplayLimit)
	}
	s.wakeLocked()
}

func (s *Server) streamingLocked() *gwConn {
	if c := s.active; c != nil && c.streaming {
		return c
	}
	return nil
}

// sendActive queues an unbuffered message on the active socket.
func (s *Server) sendActive(ctx context.Context, m outMsg) error {
	s.mu.Lock()
	c := s.active
	closed := s.closed
	s.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case c == nil:
		return ErrNotConnected
	}
	return c.send(ctx, m)
}
