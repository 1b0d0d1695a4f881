package bus_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/pkg/events"
)

func TestDeadLetterMsg(t *testing.T) {
	cause := errors.New("boom")
	t.Run("EgressActionKeptWhole", func(t *testing.T) {
		// A follow_up names its token kind; nothing to remove, so the dead
		// letter replays byte for byte (an absent Content-Type is MessagePack).
		data, err := events.Marshal(events.Action{Op: events.OpFollowUp, SessionKey: "agent:main:discord:group:c:u",
			Kind: events.FollowUpKindDiscord, Content: "hi"}, events.ContentTypeMsgpack)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := bus.DeadLetterMsg(events.StageEgress, "relay.outbound.follow_up", data, nats.Header{}, "a1", cause, 0)
		if string(m.Data) != string(data) || m.Header.Get(events.RedactedHeader) != "" {
			t.Errorf("dead letter changed a clean action: %q, %v", m.Data, m.Header)
		}
	})
	t.Run("Bounds", func(t *testing.T) {
		long := strings.Repeat("i", 5000)
		h := nats.Header{events.BufferIDHeader: {long}, "Authorization": {"Bearer x"}}
		m, errText := bus.DeadLetterMsg(events.StageWSEdge, "relay.raw.inbound", []byte(`{"type":"inbound"}`), h, long, errors.New(long), 0)
		if got := m.Header.Get(events.MsgIDHeader); !strings.HasPrefix(got, "dlq:ws-edge:sha256:") || len(got) > 100 {
			t.Errorf("Nats-Msg-Id = %q", got)
		}
		if len(m.Header.Get(events.BufferIDHeader)) > 600 || len(errText) > 600 || m.Header.Get("Authorization") != "[redacted]" {
			t.Errorf("headers not bounded or redacted: buffer id %d B, error %d B, Authorization %q",
				len(m.Header.Get(events.BufferIDHeader)), len(errText), m.Header.Get("Authorization"))
		}
		if r := m.Header.Get(events.RedactedHeader); !strings.Contains(r, "Relay-Buffer-Id clipped") || !strings.Contains(r, "Authorization removed") {
			t.Errorf("Relay-Redacted = %q", r)
		}
	})
	t.Run("PayloadCutToFit", func(t *testing.T) {
		data := []byte(strings.Repeat("x", 100<<10))
		m, _ := bus.DeadLetterMsg(events.StageWSEdge, "relay.raw.inbound", data, nil, "", cause, 64<<10)
		if len(m.Data) > 64<<10 || !strings.Contains(m.Header.Get(events.RedactedHeader), "payload cut") {
			t.Errorf("payload %d B, Relay-Redacted %q", len(m.Data), m.Header.Get(events.RedactedHeader))
		}
	})
}
