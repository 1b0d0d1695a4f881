package badinput_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/devconnector"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/pkg/wire"
	"github.com/relaybus/relaybus/tests/internal/relaytest"
)

// TestOverlongIDs feeds each stage one input with a 5,000-byte id that
// ends up in a subject or a KV key: a frame type (ws-edge publishes
// relay.raw.<type>), an event chat id (the converter publishes
// relay.inbound.message.<platform>.<chat> and writes KV
// relay_scope.<platform>.<chat>), an action id (egress publishes
// relay.results.<id>) and an action chat id (egress reads KV
// relay_scope.<platform>.<chat>). Such a subject used to exceed the
// server's control line (4 KiB); the server's -ERR made nats.go close the
// stage's connection for good, so one input took a stage down. Now
// events.SubjectToken shortens long ids (a readable prefix and a hash): the input
// must be handled like any other — the event delivered with its full chat
// id, the action sent and answered under its full id, the unknown frame
// type taken — with nothing dead-lettered, traffic after it flowing, and
// every stage live and ready. The one exception is the action id: egress
// caps it at 256 bytes (issue #14: it becomes headers), so that action is
// refused with code oversized under its full id, nothing sent, and
// dead-lettered.
func TestOverlongIDs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pipeline four times")
	}
	long := strings.Repeat("x", 5000)
	longAction := func(t *testing.T, id, chat, content string) *nats.Msg {
		t.Helper()
		m := relaytest.SendAction(t, id, 1)
		d, err := events.Marshal(events.Action{Op: events.OpSend, ChatID: chat, Content: content}, events.ContentTypeMsgpack)
		if err != nil {
			t.Fatal(err)
		}
		m.Data = d
		return m
	}
	// sentOnce checks that the action with content was sent once, to chat,
	// and answered with one success under its action id.
	sentOnce := func(t *testing.T, p *pipeline, content, chat, id string) {
		t.Helper()
		natstest.WaitFor(t, 20*time.Second, func() error {
			if len(p.res.Get(id)) == 0 {
				return fmt.Errorf("no result for the action yet")
			}
			return nil
		})
		_, recs := relaytest.Sends(p.dev)
		if got := recs[content]; len(got) != 1 || got[0].Action.ChatID != chat {
			t.Errorf("sends of %q: %d (chat ids %v), want 1 to the %d-byte chat id", content, len(got), chatIDs(got), len(chat))
		}
		if rs := p.res.Get(id); len(rs) != 1 || !rs[0].Success {
			t.Errorf("results under the %d-byte action id: %+v, want one success", len(id), rs)
		}
	}
	tests := []struct {
		name        string
		inject      func(t *testing.T, p *pipeline)
		check       func(t *testing.T, p *pipeline)
		deadLetters int
	}{
		{"frame type", func(t *testing.T, p *pipeline) {
			if err := p.dev.Push([]byte(`{"type":"` + long + `"}` + "\n")); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, p *pipeline) {
			// Published raw and taken by the converter as a type it does
			// not convert (contract §1: not an error).
			natstest.WaitFor(t, 20*time.Second, func() error {
				if got := p.conv.Metric(t, "relay_converter_dropped_total", "reason", "unknown_type"); got != 1 {
					return fmt.Errorf("converter took %v frames of an unknown type, want 1", got)
				}
				return nil
			})
		}, 0},
		{"event chat_id", func(t *testing.T, p *pipeline) {
			p.dev.Emit(wire.FrameInbound, map[string]any{"event": map[string]any{"text": "long", "message_id": "long",
				"source": map[string]any{"platform": "discord", "chat_id": long, "chat_type": "group", "scope_id": "g"}}})
		}, func(t *testing.T, p *pipeline) {
			p.agent.WaitDistinct(t, 2, 20*time.Second)
			var chats []string
			relaytest.Scan(t, p.js, events.InboundStream, events.InboundMessageSubjects, func(m jetstream.Msg) {
				var ev events.MessageEvent
				if err := events.Unmarshal(m.Data(), m.Headers().Get(events.ContentTypeHeader), &ev); err == nil && ev.MessageID == "long" {
					chats = append(chats, ev.Source.ChatID)
				}
			})
			if len(chats) != 1 || chats[0] != long {
				t.Errorf("events with the long chat id: %d (chat id lengths %v), want 1 carrying the full id", len(chats), lens(chats))
			}
		}, 0},
		{"action id", func(t *testing.T, p *pipeline) {
			p.publish(t, longAction(t, long, "c1", "long-id"))
		}, func(t *testing.T, p *pipeline) {
			// The result goes to relay.results.<the id's token>, and its
			// Relay-Action-Id header holds the bounded token, not 5 KB.
			bounded := events.SubjectToken(long)
			natstest.WaitFor(t, 20*time.Second, func() error {
				if len(p.res.Get(bounded)) == 0 {
					return fmt.Errorf("no result for the action yet")
				}
				return nil
			})
			if rs := p.res.Get(bounded); len(rs) != 1 || rs[0].Success || rs[0].Code != events.ReasonOversized {
				t.Errorf("results under the %d-byte action id: %+v, want one failure with code %s", len(long), rs, events.ReasonOversized)
			}
			if _, recs := relaytest.Sends(p.dev); len(recs["long-id"]) != 0 {
				t.Errorf("the action with the over-long id was sent %d times, want 0", len(recs["long-id"]))
			}
		}, 1},
		{"action chat_id", func(t *testing.T, p *pipeline) {
			p.publish(t, longAction(t, "long-chat", long, "long-chat"))
		}, func(t *testing.T, p *pipeline) {
			sentOnce(t, p, "long-chat", long, "long-chat")
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startPipeline(t)
			tt.inject(t, p)
			p.dev.Emit(wire.FrameInbound, relaytest.InboundFields("after", 1))
			p.publish(t, relaytest.SendAction(t, "after-act", 1))

			natstest.WaitFor(t, 20*time.Second, func() error {
				if p.agent.Counts()["after"] != 1 {
					return fmt.Errorf("the event emitted after the long id has not arrived")
				}
				if sends, _ := relaytest.Sends(p.dev); sends["after-act"] != 1 {
					return fmt.Errorf("the action published after the long id was not sent")
				}
				return nil
			})
			tt.check(t, p)
			relaytest.WaitStreamEmpty(t, p.js, events.RawStream, 20*time.Second)
			relaytest.WaitStreamEmpty(t, p.js, events.OutboundStream, 20*time.Second)
			dead := relaytest.Scan(t, p.js, events.DLQStream, events.DLQSubjects, func(m jetstream.Msg) {
				if tt.deadLetters == 0 {
					t.Errorf("dead letter from %s: %s", m.Headers().Get(events.StageHeader), m.Headers().Get(events.ErrorHeader))
				}
			})
			if dead != tt.deadLetters {
				t.Errorf("%d dead letters, want %d", dead, tt.deadLetters)
			}
			relaytest.CheckLive(t, p.edge, p.conv, p.eg)
		})
	}
}

func chatIDs(recs []devconnector.Record) []int {
	out := make([]int, len(recs))
	for i, r := range recs {
		out[i] = len(r.Action.ChatID)
	}
	return out
}

func lens(ss []string) []int {
	out := make([]int, len(ss))
	for i, s := range ss {
		out[i] = len(s)
	}
	return out
}
