package devconnector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/wire"
	"github.com/relaybus/relaybus/pkg/wire/jsonscan"
)

// gwFrame is a gateway → connector frame. Keys of other frame types are
// ignored.
type gwFrame struct {
	Type       string
	Platform   string
	BotID      string
	RequestID  string
	Action     []byte // raw; aliases the line being handled
	SessionKey string
	Reason     *string
	BufferID   string
}

// decodeGWFrame decodes a gateway frame: a JSON object whose known keys
// hold strings (reason: a string or null), with a non-empty type. It
// validates and scans the line in one pass, because every outbound and
// every ack goes through here.
func decodeGWFrame(line []byte) (gwFrame, error) {
	var f gwFrame
	var err error
	str := func(dst *string, key string, val []byte) {
		if val[0] != '"' {
			err = fmt.Errorf("%s is not a string", key)
			return
		}
		*dst = scalar(val)
	}
	valid := len(line) > 0 && line[0] == '{' && jsonscan.Members(line, func(key, val []byte, _, _ int) {
		switch {
		case err != nil:
		case keyIs(key, "type"):
			str(&f.Type, "type", val)
		case keyIs(key, "platform"):
			str(&f.Platform, "platform", val)
		case keyIs(key, "botId"):
			str(&f.BotID, "botId", val)
		case keyIs(key, "requestId"):
			str(&f.RequestID, "requestId", val)
		case keyIs(key, "session_key"):
			str(&f.SessionKey, "session_key", val)
		case keyIs(key, "bufferId"):
			str(&f.BufferID, "bufferId", val)
		case keyIs(key, "action"):
			f.Action = val
		case keyIs(key, "reason"):
			if string(val) == "null" {
				f.Reason = nil
				return
			}
			var r string
			str(&r, "reason", val)
			f.Reason = &r
		}
	})
	switch {
	case !valid && !jsonscan.Valid(line):
		return gwFrame{}, errors.New("frame is not JSON")
	case !valid:
		return gwFrame{}, errors.New("frame is not a JSON object")
	}
	if err == nil && f.Type == "" {
		err = errors.New("frame has no type")
	}
	return f, err
}

var goingIdleAckFrame = []byte(`{"type":"going_idle_ack"}` + "\n")

// handleFrame handles one gateway frame (line is only valid during the call).
// Nothing in it may stop the read loop.
func (c *gwConn) handleFrame(line []byte) {
	s := c.s
	f, err := decodeGWFrame(line)
	if err != nil {
		c.malformed("undecodable frame", err, len(line))
		return
	}
	switch f.Type {
	case wire.FrameHello:
		c.onHello(&f)
	case wire.FrameOutbound:
		c.onOutbound(&f)
	case wire.FrameInterrupt:
		c.onInterrupt(&f)
	case wire.FrameGoingIdle:
		c.onGoingIdle()
	case wire.FrameInboundAck:
		c.onAck(&f)
	default:
		s.mu.Lock()
		s.stats.UnknownFrames++
		s.mu.Unlock()
		s.log.Debug("gateway frame of unknown type ignored", "conn", c.id, "type", f.Type)
	}
}

func (c *gwConn) malformed(msg string, err error, size int) {
	c.s.mu.Lock()
	c.s.stats.Malformed++
	c.s.mu.Unlock()
	c.s.log.Warn("gateway frame dropped: "+msg, "conn", c.id, "err", err, "bytes", size)
}

// onHello answers with the platform's descriptor and starts streaming the
// replay buffer after it (on the first hello of the socket).
func (c *gwConn) onHello(f *gwFrame) {
	s := c.s
	platform := f.Platform
	if platform == "" {
		platform = events.PlatformRelay
	}
	frame, err := json.Marshal(struct {
		Type       string     `json:"type"`
		Descriptor descriptor `json:"descriptor"`
	}{wire.FrameDescriptor, s.cfg.descriptorFor(platform)})
	if err != nil { // cannot happen: descriptor holds only strings, ints and bools
		s.log.Error("descriptor not encodable", "platform", platform, "err", err)
		return
	}
	// Record the hello before answering it, so that whoever sees the
	// descriptor also sees the hello in Hellos().
	s.mu.Lock()
	s.stats.Hellos++
	s.hellos = appendBounded(s.hellos, Hello{Platform: platform, BotID: f.BotID, GatewayID: c.gatewayID, At: s.cfg.Now()}, s.cfg.RecordLimit)
	s.mu.Unlock()
	if err := c.send(context.Background(), outMsg{data: append(frame, '\n')}); err != nil {
		return
	}
	s.mu.Lock()
	c.hellos++
	start := s.active == c && !c.idle && !c.streaming
	if start {
		c.streaming = true
	}
	s.wakeLocked()
	s.mu.Unlock()
	s.log.Info("gateway hello", "conn", c.id, "platform", platform, "bot_id", f.BotID)
	if start {
		c.kick()
	}
}

// onOutbound answers and records an outbound action.
func (c *gwConn) onOutbound(f *gwFrame) {
	s := c.s
	if f.RequestID == "" {
		c.malformed("outbound without requestId", errors.New("missing requestId"), len(f.Action))
		return
	}
	now := s.cfg.Now()
	rec := Record{
		RequestID:  f.RequestID,
		RawAction:  append(json.RawMessage(nil), f.Action...),
		Platform:   f.Platform,
		BotID:      f.BotID,
		GatewayID:  c.gatewayID,
		ReceivedAt: now,
	}
	var decodeErr string
	switch {
	case len(f.Action) == 0 || f.Action[0] != '{':
		decodeErr = "bad action: action is not an object"
	default:
		if err := json.Unmarshal(f.Action, &rec.Action); err != nil {
			decodeErr = "bad action: " + err.Error()
		}
	}
	if decodeErr == "" && s.cfg.Silent != nil && s.cfg.Silent(rec.Action) {
		s.mu.Lock()
		s.records = appendBounded(s.records, rec, s.cfg.RecordLimit)
		s.stats.OutboundCount++
		s.wakeLocked()
		s.mu.Unlock()
		s.log.Info("outbound taken, never answered (Silent)", "conn", c.id, "request_id", f.RequestID, "op", rec.Action.Op)
		return
	}
	if decodeErr == "" && s.cfg.Answer != nil {
		rec.Result = s.cfg.Answer(rec.Action)
	}
	s.mu.Lock()
	switch {
	case decodeErr != "":
		rec.Result = failure(decodeErr)
	case rec.Result == nil:
		rec.Result = s.answerLocked(&rec.Action, f.Platform, now)
	}
	s.records = appendBounded(s.records, rec, s.cfg.RecordLimit)
	s.stats.OutboundCount++
	s.wakeLocked()
	s.mu.Unlock()

	result, err := json.Marshal(rec.Result)
	if err != nil {
		s.log.Warn("outbound result not encodable", "request_id", f.RequestID, "err", err)
		result = []byte(`{"success":false,"error":"result not encodable"}`)
	}
	frame := make([]byte, 0, len(result)+len(f.RequestID)+64)
	frame = append(frame, `{"type":"outbound_result","requestId":`...)
	frame = appendJSONString(frame, f.RequestID)
	frame = append(frame, `,"result":`...)
	frame = append(frame, result...)
	frame = append(frame, "}\n"...)
	if s.log.Enabled(context.Background(), slog.LevelInfo) {
		s.log.Info("outbound", "conn", c.id, "request_id", f.RequestID, "op", rec.Action.Op,
			"chat_id", rec.Action.ChatID, "platform", f.Platform, "bot_id", f.BotID,
			"success", rec.Result["success"], "error", rec.Result["error"])
		s.log.Debug("outbound content", "request_id", f.RequestID, "content", rec.Action.Content)
	}
	if decodeErr == "" && s.cfg.Delay != nil {
		if d := s.cfg.Delay(rec.Action); d > 0 {
			go c.sendAfter(d, frame)
			return
		}
	}
	_ = c.send(context.Background(), outMsg{data: frame})
}

// sendAfter sends frame after d, unless the socket is gone by then.
func (c *gwConn) sendAfter(d time.Duration, frame []byte) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		_ = c.send(context.Background(), outMsg{data: frame})
	case <-c.writerDone:
	}
}

// appendJSONString appends s as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			b, _ := json.Marshal(s) // a string always marshals
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

func (c *gwConn) onInterrupt(f *gwFrame) {
	s := c.s
	s.mu.Lock()
	s.irecords = appendBounded(s.irecords, InterruptRecord{SessionKey: f.SessionKey, Reason: f.Reason, GatewayID: c.gatewayID, ReceivedAt: s.cfg.Now()}, s.cfg.RecordLimit)
	s.stats.Interrupts++
	s.wakeLocked()
	s.mu.Unlock()
	s.log.Info("gateway interrupt", "conn", c.id, "session_key", f.SessionKey)
}

// onGoingIdle switches the socket to buffered-only delivery, then acks.
func (c *gwConn) onGoingIdle() {
	s := c.s
	s.mu.Lock()
	c.idle = true
	c.streaming = false
	s.wakeLocked()
	s.mu.Unlock()
	s.log.Info("gateway going idle", "conn", c.id)
	_ = c.send(context.Background(), outMsg{data: goingIdleAckFrame})
}

func (c *gwConn) onAck(f *gwFrame) {
	s := c.s
	if f.BufferID == "" {
		c.malformed("inbound_ack without bufferId", errors.New("missing bufferId"), 0)
		return
	}
	s.mu.Lock()
	ok := s.buf.ack(f.BufferID)
	s.wakeLocked()
	s.mu.Unlock()
	if !ok {
		s.log.Debug("ack of unknown bufferId ignored", "conn", c.id, "buffer_id", f.BufferID)
	}
}

// appendBounded appends v, keeping at most limit (and briefly up to 2×limit)
// elements so that retention is amortised O(1).
func appendBounded[T any](s []T, v T, limit int) []T {
	if len(s) >= 2*limit {
		n := copy(s, s[len(s)-limit+1:])
		clear(s[n:])
		s = s[:n]
	}
	return append(s, v)
}
