package devconnector

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	"github.com/relaybus/relaybus/pkg/events"
)

// gwFrame is a gateway → connector frame. Keys of other frame types are
// ignored.
type gwFrame struct {
	Type       string          `json:"type"`
	Platform   string          `json:"platform"`
	BotID      string          `json:"botId"`
	RequestID  string          `json:"requestId"`
	Action     json.RawMessage `json:"action"`
	SessionKey string          `json:"session_key"`
	Reason     *string         `json:"reason"`
	BufferID   string          `json:"bufferId"`
}

var goingIdleAckFrame = []byte(`{"type":"going_idle_ack"}` + "\n")

// handleFrame handles one gateway frame (line is only valid during the call).
// Nothing in it may stop the read loop.
func (c *gwConn) handleFrame(line []byte) {
	s := c.s
	var f gwFrame
	err := json.Unmarshal(line, &f)
	if err == nil && f.Type == "" {
		err = errors.New("frame has no type")
	}
	if err != nil {
		c.malformed("undecodable frame", err, len(line))
		return
	}
	switch f.Type {
	case events.FrameHello:
		c.onHello(&f)
	case events.FrameOutbound:
		c.onOutbound(&f)
	case events.FrameInterrupt:
		c.onInterrupt(&f)
	case events.FrameGoingIdle:
		c.onGoingIdle()
	case events.FrameInboundAck:
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
	}{events.FrameDescriptor, s.cfg.descriptorFor(platform)})
	if err != nil { // cannot happen: descriptor holds only strings, ints and bools
		s.log.Error("descriptor not encodable", "platform", platform, "err", err)
		return
	}
	if err := c.send(context.Background(), outMsg{data: append(frame, '\n')}); err != nil {
		return
	}
	s.mu.Lock()
	c.hellos++
	s.stats.Hellos++
	s.hellos = appendBounded(s.hellos, Hello{Platform: platform, BotID: f.BotID, GatewayID: c.gatewayID, At: s.cfg.Now()}, s.cfg.RecordLimit)
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
		RawAction:  f.Action,
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

	frame, err := json.Marshal(struct {
		Type      string         `json:"type"`
		RequestID string         `json:"requestId"`
		Result    map[string]any `json:"result"`
	}{events.FrameOutboundResult, f.RequestID, rec.Result})
	if err != nil {
		s.log.Warn("outbound result not encodable", "request_id", f.RequestID, "err", err)
		frame, _ = json.Marshal(struct {
			Type      string         `json:"type"`
			RequestID string         `json:"requestId"`
			Result    map[string]any `json:"result"`
		}{events.FrameOutboundResult, f.RequestID, failure("result not encodable")})
	}
	if s.log.Enabled(context.Background(), slog.LevelInfo) {
		s.log.Info("outbound", "conn", c.id, "request_id", f.RequestID, "op", rec.Action.Op,
			"chat_id", rec.Action.ChatID, "platform", f.Platform, "bot_id", f.BotID,
			"success", rec.Result["success"], "error", rec.Result["error"])
		s.log.Debug("outbound content", "request_id", f.RequestID, "content", rec.Action.Content)
	}
	_ = c.send(context.Background(), outMsg{data: append(frame, '\n')})
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
