package bus

import (
	"context"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/pkg/events"
)

// DeadLetter stores data on relay.dlq.<stage> with the reason headers of the
// bus contract: Relay-Error (human-readable), Relay-Error-Code (the stable
// events.Reason), Relay-Stage and Relay-Subject (the subject to replay to).
// The original headers are kept, except Nats-Msg-Id, which becomes dedupID
// (when not empty) so that a redelivered failure is dead-lettered once.
// It returns when JetStream has stored the dead letter.
func DeadLetter(ctx context.Context, js jetstream.JetStream, stage, subject string, data []byte, hdr nats.Header, dedupID string, cause error) error {
	m := nats.NewMsg(events.DLQSubject(stage))
	m.Data = data
	for k, v := range hdr {
		if k == events.MsgIDHeader {
			continue
		}
		m.Header[k] = append([]string(nil), v...)
	}
	m.Header.Set(events.ErrorHeader, cause.Error())
	m.Header.Set(events.ErrorCodeHeader, events.Reason(cause))
	m.Header.Set(events.StageHeader, stage)
	m.Header.Set(events.SubjectHeader, subject)
	if dedupID != "" {
		m.Header.Set(events.MsgIDHeader, "dlq:"+stage+":"+dedupID)
	}
	if _, err := js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("dead-lettering to %s: %w", m.Subject, err)
	}
	return nil
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
