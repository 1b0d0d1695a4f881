package wsedge

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/wire"
	"github.com/relaybus/relaybus/pkg/wire/jsonscan"
)

// waiter is one outbound request waiting for its outbound_result. ch gets
// the result object, or nil when the socket was lost.
//
// write records whether the frame's write began, so that a lost socket or
// a timeout can tell "never written, safe to retry" from "written, outcome
// unknown" (contract §1). The writer moves it from queued to begun just
// before the frame goes into a message; the request moves it from queued
// to abandoned when it gives up first, and the writer then skips the frame.
// Exactly one of the two wins.
type waiter struct {
	ch    chan []byte
	c     *conn
	write atomic.Int32
}

// Write states of an outbound frame.
const (
	writeQueued int32 = iota
	writeBegun
	writeAbandoned
)

// begin marks the frame as being written; false when its request gave up.
func (w *waiter) begin() bool { return w.write.CompareAndSwap(writeQueued, writeBegun) }

// abandon stops a frame that is still queued from ever being written;
// false when its write already began.
func (w *waiter) abandon() bool { return w.write.CompareAndSwap(writeQueued, writeAbandoned) }

// waiters maps requestId to waiter.
type waiters struct {
	mu sync.Mutex
	m  map[string]*waiter
}

func newWaiters() *waiters { return &waiters{m: make(map[string]*waiter)} }

// register adds a waiter on c; nil when c's waiters were already failed.
func (w *waiters) register(id string, c *conn) *waiter {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c.waitersFailed {
		return nil
	}
	wt := &waiter{ch: make(chan []byte, 1), c: c}
	w.m[id] = wt
	return wt
}

// resolve hands result to the waiter of id; false when there is none
// (unknown, timed out or already answered).
func (w *waiters) resolve(id string, result []byte) bool {
	w.mu.Lock()
	wt, ok := w.m[id]
	delete(w.m, id)
	w.mu.Unlock()
	if ok {
		wt.ch <- result
	}
	return ok
}

func (w *waiters) cancel(id string) {
	w.mu.Lock()
	delete(w.m, id)
	w.mu.Unlock()
}

// settle waits until no request on c waits for a result any more, or
// timeout passes, or the socket dies.
func (w *waiters) settle(c *conn, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for {
		w.mu.Lock()
		n := 0
		for _, wt := range w.m {
			if wt.c == c {
				n++
			}
		}
		w.mu.Unlock()
		if n == 0 || time.Now().After(deadline) {
			return
		}
		select {
		case <-c.done:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// failConn fails every waiter on c at once with "connection lost".
func (w *waiters) failConn(c *conn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c.waitersFailed = true
	for id, wt := range w.m {
		if wt.c == c {
			delete(w.m, id)
			wt.ch <- nil
		}
	}
}

// resultOK answers an interrupt once its frame is written.
var resultOK = []byte(`{"success":true}`)

// newRequestID returns a fresh uuid4 as 32 lowercase hex characters.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return hex.EncodeToString(b[:])
}

// serveOutbound is the relay.edge.outbound handler. It never blocks the
// subscription for longer than it takes to get a slot: the request is
// answered from its own goroutine.
func (s *Service) serveOutbound(req micro.Request) { s.answerAsync(req, s.handleOutbound) }

// edgeRequest is a micro request answered off its handler's goroutine.
// micro reads a request's error state once its handler has returned, so a
// reply sent later must not go through micro.Request (the race detector
// saw Error racing that read); it is published on the reply subject with
// micro's own error headers instead.
type edgeRequest struct {
	nc    *nats.Conn
	log   *slog.Logger
	data  []byte
	hdr   micro.Headers
	reply string
}

// Respond answers with a JSON result.
func (r edgeRequest) Respond(result []byte) {
	r.publish(result, nats.Header{events.ContentTypeHeader: {events.ContentTypeJSON}})
}

// Error answers with micro's error headers (Nats-Service-Error-Code,
// Nats-Service-Error) and an optional body.
func (r edgeRequest) Error(code, description string, data []byte) {
	r.publish(data, nats.Header{micro.ErrorCodeHeader: {code}, micro.ErrorHeader: {description}})
}

func (r edgeRequest) publish(data []byte, hdr nats.Header) {
	if r.reply == "" {
		return // published without a reply subject: nobody is waiting
	}
	if err := r.nc.PublishMsg(&nats.Msg{Subject: r.reply, Data: data, Header: hdr}); err != nil {
		r.log.Debug("edge reply failed", "err", err)
	}
}

// answerAsync runs handle on its own goroutine once one of the outSem
// slots is free; outWG tracks it for the drain.
func (s *Service) answerAsync(req micro.Request, handle func(edgeRequest)) {
	r := edgeRequest{nc: s.NC, log: s.Log, data: req.Data(), hdr: req.Headers(), reply: req.Reply()}
	s.outSem <- struct{}{}
	s.outWG.Add(1)
	go func() {
		defer func() {
			<-s.outSem
			s.outWG.Done()
		}()
		handle(r)
	}()
}

// edgeAction is the part of an action ws-edge reads itself.
type edgeAction struct {
	Op         string  `json:"op"`
	SessionKey string  `json:"session_key"`
	Reason     *string `json:"reason"`
}

// decodeEdgeAction reads an edge request's action into a in one pass, and
// reports whether body starts with '{' and is one valid JSON object whose
// op, session_key and reason have the types of edgeAction's fields:
// exactly what json.Unmarshal(body, a) == nil says for such a body, with
// the same values (keys matched case-insensitively, the last of duplicates
// kept, null leaving a string as it is and a *string nil).
// FuzzDecodeEdgeAction holds it to encoding/json, which took about 11 µs
// of each send's CPU here.
func decodeEdgeAction(body []byte, a *edgeAction) bool {
	if len(body) == 0 || body[0] != '{' {
		return false
	}
	typed := true
	str := func(v []byte, dst *string) {
		if v[0] == 'n' { // null: unchanged
			return
		}
		s, ok := jsonscan.Unquote(v)
		if !ok {
			typed = false
			return
		}
		*dst = s
	}
	valid := jsonscan.Members(body, func(k, v []byte, _, _ int) {
		switch {
		case jsonscan.KeyIs(k, "op", true):
			str(v, &a.Op)
		case jsonscan.KeyIs(k, "session_key", true):
			str(v, &a.SessionKey)
		case jsonscan.KeyIs(k, "reason", true):
			if v[0] == 'n' {
				a.Reason = nil
				return
			}
			var r string
			if str(v, &r); typed {
				a.Reason = &r
			}
		}
	})
	return valid && typed
}

// resultSucceeded reports what json.Unmarshal of an outbound_result into
// struct{ Success bool } leaves in Success, its error ignored: false for
// input that is not one valid JSON object, else the last boolean
// "success" member (case-insensitive key). For the outcome metric only.
func resultSucceeded(r []byte) bool {
	success := false
	if !jsonscan.Members(r, func(k, v []byte, _, _ int) {
		if jsonscan.KeyIs(k, "success", true) {
			switch string(v) {
			case "true":
				success = true
			case "false":
				success = false
			}
		}
	}) {
		return false
	}
	return success
}

func (s *Service) handleOutbound(req edgeRequest) {
	body := bytes.TrimSpace(req.data)
	var a edgeAction
	if !decodeEdgeAction(body, &a) || a.Op == "" {
		s.m.outbound.WithLabelValues(outcomeBadRequest).Inc()
		req.Error("400", "body must be an action JSON object with an op", mustJSON(events.SendResult{Error: "relay edge: bad action"}))
		return
	}
	platform := req.hdr.Get(events.PlatformHeader)
	botID := req.hdr.Get(events.BotIDHeader)
	if a.Op == events.OpInterrupt {
		if a.SessionKey == "" {
			s.m.outbound.WithLabelValues(outcomeBadRequest).Inc()
			req.Error("400", "interrupt needs a session_key", mustJSON(events.SendResult{Error: "relay edge: interrupt needs a session_key"}))
			return
		}
		req.Respond(s.interrupt(a))
		return
	}
	action, removed, err := wire.StripInternalMetadata(compactJSON(body))
	if err != nil {
		s.m.outbound.WithLabelValues(outcomeBadRequest).Inc()
		req.Error("400", "action is not a JSON object with an object metadata", mustJSON(events.SendResult{Error: "relay edge: bad action: " + err.Error()}))
		return
	}
	if removed > 0 {
		s.m.internalKeys.Add(float64(removed))
	}
	if platform != "" && botID == "" && s.identities.Multi() {
		botID = s.identities.BotID(platform) // the configured bot of the named platform
	}
	result, _ := s.roundTrip(action, platform, botID)
	req.Respond(result)
}

// interrupt writes an interrupt frame and answers once it is written.
func (s *Service) interrupt(a edgeAction) []byte {
	c := s.current()
	if c == nil {
		s.m.outbound.WithLabelValues(outcomeNotConnected).Inc()
		return s.resultNC
	}
	done := make(chan error, 1)
	if !c.send(outItem{frame: wire.AppendInterrupt(nil, a.SessionKey, a.Reason), done: done}) {
		s.m.outbound.WithLabelValues(outcomeNotConnected).Inc()
		return s.resultNC
	}
	var err error
	select {
	case err = <-done:
	case <-c.done:
		select {
		case err = <-done: // written just before the socket went
		default:
			err = errConnLost
		}
	}
	if err != nil {
		s.m.outbound.WithLabelValues(outcomeConnLost).Inc()
		return s.resultLost
	}
	s.m.outbound.WithLabelValues(outcomeInterrupt).Inc()
	return resultOK
}

// roundTrip writes an outbound frame around action (a compact JSON object)
// and waits for its result, synthesizing the contract's results when the
// socket is down, lost, or silent past the timeout. ok is true for a result
// the connector sent.
func (s *Service) roundTrip(action []byte, platform, botID string) (result []byte, ok bool) {
	c := s.current()
	if c == nil {
		s.m.outbound.WithLabelValues(outcomeNotConnected).Inc()
		return s.resultNC, false
	}
	id := newRequestID()
	w := s.waiters.register(id, c)
	if w == nil {
		s.m.outbound.WithLabelValues(outcomeNotConnected).Inc()
		return s.resultNC, false
	}
	if !c.send(outItem{frame: wire.AppendOutbound(nil, id, action, platform, botID), w: w}) {
		s.waiters.cancel(id)
		s.m.outbound.WithLabelValues(outcomeNotConnected).Inc()
		return s.resultNC, false
	}
	t := time.NewTimer(s.cfg.OutboundTimeout)
	defer t.Stop()
	select {
	case r := <-w.ch:
		if r == nil {
			if w.abandon() {
				// Still queued when the socket went: never written.
				s.m.outbound.WithLabelValues(outcomeNotConnected).Inc()
				return s.resultNC, false
			}
			s.m.outbound.WithLabelValues(outcomeConnLost).Inc()
			return s.resultLost, false
		}
		if resultSucceeded(r) {
			s.m.outbound.WithLabelValues(outcomeSuccess).Inc()
		} else {
			s.m.outbound.WithLabelValues(outcomeFailure).Inc()
		}
		return r, true
	case <-t.C:
		s.waiters.cancel(id)
		if w.abandon() {
			// The writer never got to it (a stalled socket): not written.
			s.m.outbound.WithLabelValues(outcomeNotConnected).Inc()
			return s.resultNC, false
		}
		s.m.outbound.WithLabelValues(outcomeTimeout).Inc()
		s.Log.Warn("outbound timed out; outcome unknown (ambiguous)", "request_id", id, "timeout", s.cfg.OutboundTimeout)
		return s.resultTO, false
	}
}

// compactJSON returns b without insignificant whitespace when it holds a
// line break (a frame must be one line); b itself otherwise.
func compactJSON(b []byte) []byte {
	if bytes.IndexAny(b, "\r\n") < 0 {
		return b
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return b // unreachable: b was validated (decodeEdgeAction)
	}
	return buf.Bytes()
}

// chatInfoRequest is the body of relay.rpc.chat_info.
type chatInfoRequest struct {
	ChatID   string `json:"chat_id" msgpack:"chat_id"`
	Platform string `json:"platform,omitempty" msgpack:"platform,omitempty"`
}

// serveChatInfo answers relay.rpc.chat_info through the connector when the
// descriptor advertises get_chat_info, locally ({name: chat_id, type: dm})
// otherwise or when the connector has no answer.
func (s *Service) serveChatInfo(req micro.Request) { s.answerAsync(req, s.handleChatInfo) }

func (s *Service) handleChatInfo(req edgeRequest) {
	var q chatInfoRequest
	ct := req.hdr.Get(events.ContentTypeHeader)
	if ct == "" {
		ct = events.ContentTypeJSON
	}
	if err := events.Unmarshal(req.data, ct, &q); err != nil || q.ChatID == "" {
		req.Error("400", "body must be {\"chat_id\": ...} as JSON or MessagePack", nil)
		return
	}
	platform := req.hdr.Get(events.PlatformHeader)
	if platform == "" {
		platform = q.Platform
	}
	info := events.ChatInfo{Name: q.ChatID, Type: events.ChatDM}
	if s.descriptorFor(platform).SupportsOp(events.OpGetChatInfo) {
		a := events.Action{Op: events.OpGetChatInfo, ChatID: q.ChatID}
		body, err := a.AppendJSON(nil)
		if err == nil {
			if raw, ok := s.roundTrip(body, platform, req.hdr.Get(events.BotIDHeader)); ok {
				if r, err := events.ParseResult(raw); err == nil && r.ChatInfo != nil {
					if r.ChatInfo.Name != "" {
						info.Name = r.ChatInfo.Name
					}
					if r.ChatInfo.Type != "" {
						info.Type = r.ChatInfo.Type
					}
				}
			}
		}
	}
	req.Respond(mustJSON(info))
}

// waitOutbound waits (bounded) for the request goroutines to finish.
func (s *Service) waitOutbound(timeout time.Duration) {
	done := make(chan struct{})
	go func() {
		s.outWG.Wait()
		close(done)
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.Log.Warn("edge requests still running at shutdown")
	}
}

// rateLog lets one log line per key through, then at most one per period
// with the count of those held back.
type rateLog struct {
	mu     sync.Mutex
	now    func() time.Time
	period time.Duration
	last   map[string]*rateEntry
}

type rateEntry struct {
	at         time.Time
	suppressed int
}

func newRateLog(now func() time.Time, period time.Duration) *rateLog {
	return &rateLog{now: now, period: period, last: make(map[string]*rateEntry)}
}

// allow reports whether to log key now and how many were held back since
// the last line.
func (r *rateLog) allow(key string) (bool, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	e, ok := r.last[key]
	if !ok {
		r.last[key] = &rateEntry{at: now}
		return true, 0
	}
	if now.Sub(e.at) < r.period {
		e.suppressed++
		return false, 0
	}
	n := e.suppressed
	e.at, e.suppressed = now, 0
	return true, n
}
