package bus

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/redact"
	"github.com/relaybus/relaybus/pkg/events"
)

// Bounds of what a dead letter stores besides its payload.
const (
	// MaxDeadLetterHeader bounds each header value a dead letter keeps
	// (Relay-Error, a copied Relay-Buffer-Id, …); longer ones are clipped
	// and the clipping is noted in Relay-Redacted.
	MaxDeadLetterHeader = 512
	// maxDedupID bounds the id part of a dead letter's Nats-Msg-Id; a
	// longer one is replaced by its SHA-256.
	maxDedupID = 128
	// deadLetterOverhead is what the dead-letter headers may take of the
	// server's max payload; the payload gets the rest.
	deadLetterOverhead = 16 << 10
)

// DeadLetterMsg is the relay's one dead-letter writer: it returns the
// message that stores data (a message a stage gives up on) on
// relay.dlq.<stage>, with the reason headers of the bus contract:
// Relay-Error (human-readable), Relay-Error-Code (the stable
// events.Reason), Relay-Stage and Relay-Subject (the subject to replay
// to). Every stage writes its dead letters through it, so that what it
// removes is removed on every path:
//
//   - Credentials leave the payload (redact.Payload: the Discord
//     interaction token in a forwarded body, however the frame was
//     malformed) and the headers (values of credential-named headers; any
//     removed credential value found in another header or in the error).
//     What was removed is listed, as JSON paths and never values, in
//     Relay-Redacted (events.RedactedHeader).
//   - Every header value is clipped to MaxDeadLetterHeader bytes; the
//     payload is cut to fit maxPayload (the server's limit, 0 for none).
//     Each cut is noted in Relay-Redacted.
//
// The original headers are kept, except Nats-Msg-Id, which becomes
// "dlq:<stage>:<dedupID>" (when dedupID is not empty; an id longer than
// 128 bytes is replaced by "sha256:" and its hex digest) so that a
// redelivered failure is dead-lettered once. It also returns the error
// text as stored, clipped and scrubbed, for the caller's log line.
func DeadLetterMsg(stage, subject string, data []byte, hdr nats.Header, dedupID string, cause error, maxPayload int64) (*nats.Msg, string) {
	var clean []byte
	var notes, secrets []string
	if ct := hdr.Get(events.ContentTypeHeader); isMsgpack(ct) || ct == "" && stage == events.StageEgress {
		// An action (an absent Content-Type means MessagePack on
		// relay.outbound); a JSON action takes the JSON path.
		clean, notes, secrets = redact.Msgpack(data)
	} else {
		clean, notes, secrets = redact.Payload(data)
	}
	m := nats.NewMsg(events.DLQSubject(stage))
	bound := func(k, v string) string {
		v = redact.Scrub(v, secrets)
		if len(v) > MaxDeadLetterHeader {
			notes = append(notes, "header "+redact.Clip(k, 64)+" clipped from "+strconv.Itoa(len(v))+" bytes")
			v = redact.Clip(v, MaxDeadLetterHeader)
		}
		return v
	}
	set := func(k, v string) { m.Header.Set(k, bound(k, v)) }
	for k, vs := range hdr {
		if k == events.MsgIDHeader {
			continue
		}
		if redact.CredentialHeader(k) {
			m.Header.Set(k, redact.Placeholder)
			notes = append(notes, "header "+redact.Clip(k, 64)+" removed")
			continue
		}
		for _, v := range vs {
			m.Header[k] = append(m.Header[k], bound(k, v))
		}
	}
	errText := "unknown error"
	if cause != nil {
		errText = cause.Error()
	}
	set(events.ErrorHeader, errText)
	errText = m.Header.Get(events.ErrorHeader)
	set(events.ErrorCodeHeader, events.Reason(cause))
	set(events.StageHeader, stage)
	set(events.SubjectHeader, subject)
	if dedupID != "" {
		if len(dedupID) > maxDedupID {
			sum := sha256.Sum256([]byte(dedupID))
			dedupID = "sha256:" + hex.EncodeToString(sum[:])
		}
		m.Header.Set(events.MsgIDHeader, "dlq:"+stage+":"+dedupID)
	}
	if limit := maxPayload - deadLetterOverhead; maxPayload > 0 && int64(len(clean)) > limit {
		notes = append(notes, "payload cut to its first "+strconv.FormatInt(max(limit, 0), 10)+" of "+strconv.Itoa(len(clean))+" bytes")
		clean = clean[:max(limit, 0)]
	}
	if len(notes) > 0 {
		r := strings.Join(notes, "; ")
		m.Header.Set(events.RedactedHeader, redact.Clip(r, 4*MaxDeadLetterHeader))
	}
	m.Data = clean
	return m, errText
}

// isMsgpack reports whether a Content-Type names MessagePack (parameters
// and case ignored, as events.Unmarshal does).
func isMsgpack(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), events.ContentTypeMsgpack)
}

// DeadLetter stores a dead letter written by DeadLetterMsg and returns when
// JetStream has stored it.
func DeadLetter(ctx context.Context, js jetstream.JetStream, stage, subject string, data []byte, hdr nats.Header, dedupID string, cause error) error {
	_, err := PublishDeadLetter(ctx, js, stage, subject, data, hdr, dedupID, cause)
	return err
}

// PublishDeadLetter is DeadLetter that also returns the error text as
// stored (clipped, without credentials): what a log line may show.
func PublishDeadLetter(ctx context.Context, js jetstream.JetStream, stage, subject string, data []byte, hdr nats.Header, dedupID string, cause error) (string, error) {
	var maxPayload int64
	if nc := js.Conn(); nc != nil {
		maxPayload = nc.MaxPayload()
	}
	m, errText := DeadLetterMsg(stage, subject, data, hdr, dedupID, cause, maxPayload)
	if _, err := js.PublishMsg(ctx, m); err != nil {
		return errText, fmt.Errorf("dead-lettering to %s: %w", m.Subject, err)
	}
	return errText, nil
}

// MsgDedupID returns a stable id for a JetStream message: its stream and
// stream sequence, the same on every redelivery.
func MsgDedupID(msg jetstream.Msg) string {
	md, err := msg.Metadata()
	if err != nil {
		return ""
	}
	return md.Stream + ":" + strconv.FormatUint(md.Sequence.Stream, 10)
}
