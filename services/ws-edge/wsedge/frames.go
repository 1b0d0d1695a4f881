package wsedge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/redact"
	"github.com/relaybus/relaybus/pkg/descriptor"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/wire"
	"github.com/relaybus/relaybus/services/ws-edge/internal/sniff"
)

// Bounds of what a log line shows of a value from the wire.
const (
	maxLoggedID  = 128 // an id or a frame type
	maxLoggedErr = 512 // an error's text
)

// handleFrame handles one complete frame from the reader. b is only valid
// during the call.
func (s *Service) handleFrame(c *conn, b []byte) {
	start := s.Now()
	// Fast path: a well-formed data frame needs only its envelope.
	if typ, bid, ok := sniff.Frame(b); ok {
		if c.stopRead.Load() {
			return
		}
		s.m.frame(string(typ))
		if len(bid) > wire.MaxBufferIDLen {
			s.badFrame(c, b, string(typ), string(bid), idTooLong(len(bid)), start)
			return
		}
		t, id := s.frameType(typ), string(bid)
		if s.absorbed(c, id, t) {
			return
		}
		s.publishRaw(c, t, wire.ChatKey(t, b), id, b, start)
		return
	}
	// Everything else: control frames, bad frames, unusual encodings.
	f, err := wire.DecodeFrame(b)
	if err != nil {
		if c.stopRead.Load() {
			return
		}
		s.badFrame(c, b, f.Type, f.BufferID, err, start)
		return
	}
	s.m.frame(f.Type)
	switch f.Type {
	case wire.FrameDescriptor:
		s.handleDescriptor(c, f, b, start)
	case wire.FrameOutboundResult:
		if !s.waiters.resolve(f.RequestID, f.Result) {
			s.m.unmatched.Inc()
			s.Log.Debug("outbound_result for an unknown or answered request", "request_id", f.RequestID)
		}
	case wire.FrameGoingIdleAck:
		c.idleAcked()
	default:
		if c.stopRead.Load() {
			return
		}
		if len(f.BufferID) > wire.MaxBufferIDLen {
			s.badFrame(c, b, f.Type, f.BufferID, idTooLong(len(f.BufferID)), start)
			return
		}
		if s.absorbed(c, f.BufferID, f.Type) {
			return
		}
		s.publishRaw(c, f.Type, wire.ChatKey(f.Type, b), f.BufferID, b, start)
	}
}

// frameType returns typ as a string, without allocating for the known
// types.
func (s *Service) frameType(typ []byte) string {
	switch string(typ) {
	case wire.FrameInbound:
		return wire.FrameInbound
	case wire.FramePassthroughForward:
		return wire.FramePassthroughForward
	case wire.FrameInterruptInbound:
		return wire.FrameInterruptInbound
	}
	return string(typ)
}

// publishRaw publishes a data frame's exact bytes to
// relay.raw.<type>.<chat>, chat being the subject token of the frame's
// chat key (wire.ChatKey, events.RawChatSubject): RELAY_RAW's subject transform turns it into the
// chat's partition, and the Relay-Chat header keeps it for the converter
// to order the chat's frames by.
func (s *Service) publishRaw(c *conn, typ, chatKey, bufferID string, b []byte, start time.Time) {
	chat := events.SubjectToken(chatKey)
	h := make(nats.Header, 5)
	h[events.EdgeHeader] = s.edgeHdr
	h[events.ChatHeader] = []string{chat}
	h[events.ReceivedAtHeader] = []string{start.UTC().Format(time.RFC3339Nano)}
	if bufferID != "" {
		v := []string{bufferID}
		h[events.MsgIDHeader] = v
		h[events.BufferIDHeader] = v
	}
	msg := &nats.Msg{Subject: events.RawSubject(typ) + "." + chat, Header: h, Data: copyData(b)}
	s.pipe.publishChat(c, msg, chat, bufferID, start)
}

// absorbed handles a replay of a frame acked before the last connect (in
// the ack log's replay set): it is acked again, after its id is logged
// again (so that it stays within the horizon of the next disconnect), and
// not stored again. It reports whether the frame was such a replay.
func (s *Service) absorbed(c *conn, bufferID, typ string) bool {
	if bufferID == "" || !s.acklog.absorbs(bufferID) {
		return false
	}
	s.m.replaysAbsorbed.Inc()
	s.Log.Debug("replay absorbed: acked before the last connect", "frame_type", redact.Clip(typ, maxLoggedID), "conn_id", c.id)
	s.ack(c, bufferID)
	return true
}

// tooLongID reports whether err is idTooLong's.
func tooLongID(err error) bool {
	var fe *events.FrameError
	return errors.As(err, &fe) && fe.Reason == events.ReasonOversized && fe.Field == "bufferId"
}

// idTooLong is the error of a frame whose bufferId is over
// wire.MaxBufferIDLen.
func idTooLong(n int) error {
	return &events.FrameError{Reason: events.ReasonOversized, Field: "bufferId",
		Detail: fmt.Sprintf("bufferId of %d bytes exceeds the %d byte limit", n, wire.MaxBufferIDLen)}
}

// handleOversized dead-letters the kept prefix of a frame over the limit.
// When the prefix shows the frame's bufferId it is acked once dead-lettered:
// the connector could only replay it into the same rejection forever.
func (s *Service) handleOversized(c *conn, prefix []byte, size int) {
	if c.stopRead.Load() {
		return
	}
	typ, bufferID := sniff.Prefix(prefix)
	err := &events.FrameError{
		Reason: events.ReasonOversized,
		Detail: fmt.Sprintf("frame of %d bytes exceeds the %d byte limit (first %d bytes kept)", size, c.maxFrame, len(prefix)),
	}
	s.badFrame(c, prefix, typ, bufferID, err, s.Now())
}

// badFrame counts, logs (rate-limited) and dead-letters a rejected frame
// through the relay's one dead-letter writer (bus.DeadLetterMsg: no
// credential and no unbounded value survives into the dead letter or the
// log line). With a bufferId it is acked after the dead letter is stored,
// so that the connector stops replaying it: the dead letter is its durable
// copy. That holds for an over-long bufferId too (the ack echoes the id
// the connector itself sent; its Relay-Buffer-Id header is clipped and
// its dead letter de-duplicated by the id's SHA-256).
func (s *Service) badFrame(c *conn, b []byte, typ, bufferID string, cause error, start time.Time) {
	reason := events.Reason(cause)
	s.m.badFrames.WithLabelValues(reason).Inc()
	h := make(nats.Header, 4)
	h[events.EdgeHeader] = s.edgeHdr
	h[events.ReceivedAtHeader] = []string{start.UTC().Format(time.RFC3339Nano)}
	if bufferID != "" {
		h[events.BufferIDHeader] = []string{bufferID}
	}
	msg, errText := bus.DeadLetterMsg(events.StageWSEdge, events.RawSubject(typ), b, h, bufferID, cause, s.NC.MaxPayload())
	if ok, suppressed := s.badLog.allow(reason); ok {
		s.Log.Warn("bad frame dead-lettered", "reason", reason, "err", errText, "frame_type", redact.Clip(typ, maxLoggedID),
			"buffer_id", redact.Clip(bufferID, maxLoggedID), "bytes", len(b), "suppressed_since_last", suppressed)
	}
	if len(b) == 0 {
		return
	}
	if len(msg.Data) > 0 && &msg.Data[0] == &b[0] {
		msg.Data = copyData(msg.Data) // b is only valid during the call
	}
	ackID := bufferID
	if tooLongID(cause) {
		// Not acked (issue #14): an id this relay cannot carry stays in the
		// connector's buffer, where its operators see it, and each replay
		// is dead-lettered once more (de-duplicated by the id's hash).
		ackID = ""
		if ok, _ := s.badLog.allow("unacked_id"); ok {
			s.Log.Warn("frame with an over-long bufferId left un-acked: the connector keeps it buffered", "bytes", len(bufferID), "limit", wire.MaxBufferIDLen)
		}
	}
	s.pipe.publish(c, msg, ackID, start, true)
}

// handleDescriptor stores a descriptor (memory and KV) and completes the
// handshake if it is the socket's first. A descriptor that does not decode
// is dead-lettered and the previous one kept; it still completes the
// handshake, since the connector has answered the hellos.
func (s *Service) handleDescriptor(c *conn, f wire.Frame, frame []byte, start time.Time) {
	d, err := descriptor.Decode(f.Descriptor)
	if err != nil {
		s.badFrame(c, frame, f.Type, f.BufferID, descriptorError(err), start)
	} else {
		s.descMu.Lock()
		s.descs[d.Platform] = d
		s.descMu.Unlock()
		s.storeDescriptor(d.Platform, f.Descriptor)
		s.Log.Info("relay descriptor", "platform", d.Platform, "max_message_length", d.MaxMessageLength,
			"len_unit", d.LenUnit, "supported_ops", d.SupportedOps, "conn_id", c.id)
	}
	c.handshake()
}

func (s *Service) storeDescriptor(platform string, raw []byte) {
	kvp := s.kv.Load()
	if kvp == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.PublishTimeout)
	defer cancel()
	if _, err := (*kvp).Put(ctx, events.DescriptorKey(platform), raw); err != nil {
		s.Log.Warn("storing descriptor failed", "platform", platform, "bucket", events.DescriptorBucket, "err", err)
	}
}

// descriptorError maps a descriptor.Decode error onto a frame reason.
func descriptorError(err error) *events.FrameError {
	reason := events.ReasonWrongType
	switch {
	case errors.Is(err, descriptor.ErrMissingKey):
		reason = events.ReasonMissingField
	case errors.Is(err, descriptor.ErrNotObject):
		reason = events.ReasonNotObject
	}
	return &events.FrameError{Reason: reason, Field: "descriptor", Detail: err.Error()}
}

// ack acks a stored frame once its bufferId is in the ack log (acked ⇒
// logged, so that a replay of any acked frame can be recognised).
func (s *Service) ack(c *conn, bufferID string) { s.acklog.log(c, bufferID) }

// writeAck writes inbound_ack for a stored and logged frame: on the socket
// it came from while that is up, else on the current one (acks are by
// bufferId, so any socket of this gateway will do). With no socket the ack
// is dropped: the connector replays the frame, which the ack log (or the
// stream's window) absorbs, and it is acked then.
func (s *Service) writeAck(c *conn, bufferID string) {
	if c != nil && c.send(outItem{ack: bufferID}) {
		return
	}
	if cur := s.current(); cur != nil && cur != c && cur.send(outItem{ack: bufferID}) {
		return
	}
	s.Log.Debug("ack dropped: no socket; the connector will replay", "buffer_id", bufferID)
}
