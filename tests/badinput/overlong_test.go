package badinput_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/natstest"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/tests/internal/relaytest"
)

// bugOverlongSubject is the bug this test reproduces: an id that becomes a
// subject token (a frame type, a chat id, an action id) is not bounded, so
// a few kilobytes of it make a subject past nats-server's max_control_line
// (4096); the server answers -ERR "maximum control line exceeded", which
// nats.go treats as fatal and closes the stage's connection for good.
const bugOverlongSubject = "overlong-subject-token-closes-nats-connection"

// TestOverlongIDs feeds one input whose id is 5,000 bytes long to each
// stage: a frame type (ws-edge publishes relay.raw.<type>), an event chat
// id (the converter publishes relay.inbound.message.<platform>.<chat> and
// writes KV relay_scope.<platform>.<chat>), an action id (egress publishes
// relay.results.<id>) and an action chat id (egress reads KV
// relay_scope.<platform>.<chat>). Each must be dead-lettered like any bad
// input, and valid traffic after it must still flow, with every stage live
// and ready. Today each one closes the stage's NATS connection for good
// (see bugOverlongSubject), so the test only runs with
// RELAYBUS_KNOWN_BUGS=1.
func TestOverlongIDs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pipeline four times")
	}
	relaytest.ReproducesKnownBug(t, bugOverlongSubject)
	long := strings.Repeat("x", 5000)
	longAction := func(t *testing.T, id, chat string) *nats.Msg {
		t.Helper()
		m := relaytest.SendAction(t, id, 1)
		d, err := events.Marshal(events.Action{Op: events.OpSend, ChatID: chat, Content: "long"}, events.ContentTypeMsgpack)
		if err != nil {
			t.Fatal(err)
		}
		m.Data = d
		return m
	}
	tests := []struct {
		name   string
		stage  string
		inject func(t *testing.T, p *pipeline)
	}{
		{"frame type", events.StageWSEdge, func(t *testing.T, p *pipeline) {
			if err := p.dev.Push([]byte(`{"type":"` + long + `"}` + "\n")); err != nil {
				t.Fatal(err)
			}
		}},
		{"event chat_id", events.StageConverter, func(t *testing.T, p *pipeline) {
			p.dev.Emit(events.FrameInbound, map[string]any{"event": map[string]any{"text": "long", "message_id": "long",
				"source": map[string]any{"platform": "discord", "chat_id": long, "chat_type": "group", "scope_id": "g"}}})
		}},
		{"action id", events.StageEgress, func(t *testing.T, p *pipeline) {
			p.publish(t, longAction(t, long, "c1"))
		}},
		{"action chat_id", events.StageEgress, func(t *testing.T, p *pipeline) {
			p.publish(t, longAction(t, "long-chat", long))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startPipeline(t)
			tt.inject(t, p)
			p.dev.Emit(events.FrameInbound, relaytest.InboundFields("after", 1))
			p.publish(t, relaytest.SendAction(t, "after-act", 1))

			p.agent.WaitDistinct(t, 1, 20*time.Second)
			natstest.WaitFor(t, 20*time.Second, func() error {
				if sends, _ := relaytest.Sends(p.dev); sends["after-act"] != 1 {
					return fmt.Errorf("the action published after the bad input was not sent")
				}
				n, err := relaytest.StreamMsgs(t, p.js, events.DLQStream)
				if err != nil {
					return err
				}
				if n != 1 {
					return fmt.Errorf("%d dead letters, want 1", n)
				}
				return nil
			})
			relaytest.Scan(t, p.js, events.DLQStream, events.DLQSubjects, func(m jetstream.Msg) {
				if got := m.Headers().Get(events.StageHeader); got != tt.stage {
					t.Errorf("dead-lettered by %q (%s), want %q", got, m.Headers().Get(events.ErrorHeader), tt.stage)
				}
			})
			relaytest.CheckLive(t, p.edge, p.conv, p.eg)
		})
	}
}
