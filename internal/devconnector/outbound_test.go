package devconnector_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/relaybus/relaybus/internal/devconnector"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/wire"
)

func strp(s string) *string { return &s }

func TestOutboundAnswers(t *testing.T) {
	clock := newClock()
	s := newServer(t, devconnector.Config{Now: clock.Now})
	g := connected(t, s)
	// A guild interaction in chat c1 (and so a token for its session), and a
	// DM interaction.
	post(t, s, "/interactions?bot_id=app1", "application/json", `{"id":"i1","type":2,"token":"TOK1","guild_id":"g1","channel_id":"c1","member":{"user":{"id":"u1"}},"data":{"name":"new"}}`)
	post(t, s, "/interactions?bot_id=app1", "application/json", `{"id":"i2","type":2,"token":"TOK2","channel_id":"d1","user":{"id":"u2"},"data":{"name":"new"}}`)
	g.expect(wire.FramePassthroughForward)
	g.expect(wire.FramePassthroughForward)

	declined := map[string]any{"success": false, "code": "egress_declined", "error": "egress declined: target not routed to an onboarded tenant"}
	ok := map[string]any{"success": true}
	tests := []struct {
		name     string
		action   events.Action
		platform string
		advance  time.Duration
		want     map[string]any
	}{
		{"Send", events.Action{Op: "send", ChatID: "d1", Content: "hi"}, "discord", 0, map[string]any{"success": true, "message_id": "m-1"}},
		{"SendAgain", events.Action{Op: "send", ChatID: "d1", Content: "hi", ReplyTo: strp("x")}, "", 0, map[string]any{"success": true, "message_id": "m-2"}},
		{"Edit", events.Action{Op: "edit", ChatID: "d1", MessageID: "m-1", Content: "hey"}, "discord", 0, map[string]any{"success": true, "message_id": "m-1"}},
		{"Typing", events.Action{Op: "typing", ChatID: "d1"}, "discord", 0, ok},
		{"Delete", events.Action{Op: "delete", ChatID: "d1", MessageID: "m-1"}, "discord", 0, ok},
		{"React", events.Action{Op: "react", ChatID: "d1", MessageID: "m-1", Emoji: "👍"}, "discord", 0, ok},
		{"GetChatInfo", events.Action{Op: "get_chat_info", ChatID: "c1"}, "discord", 0, map[string]any{"success": true, "chat_info": map[string]any{"name": "chat-c1", "type": "group"}}},
		{"GuildSendWithoutScopeDeclined", events.Action{Op: "send", ChatID: "c1", Content: "hi"}, "discord", 0, declined},
		{"GuildSendNoPlatformDeclined", events.Action{Op: "send", ChatID: "c1", Content: "hi"}, "", 0, declined},
		{"GuildTypingDeclined", events.Action{Op: "typing", ChatID: "c1"}, "discord", 0, declined},
		{"GuildEditDeclined", events.Action{Op: "edit", ChatID: "c1", MessageID: "m", Content: "x"}, "discord", 0, declined},
		{"GuildDeleteDeclined", events.Action{Op: "delete", ChatID: "c1", MessageID: "m"}, "discord", 0, declined},
		{"GuildReactDeclined", events.Action{Op: "react", ChatID: "c1", MessageID: "m", Emoji: "x"}, "discord", 0, declined},
		{"GuildSendWithScope", events.Action{Op: "send", ChatID: "c1", Content: "hi", Metadata: map[string]any{"scope_id": "g1"}}, "discord", 0, map[string]any{"success": true, "message_id": "m-3"}},
		{"GuildSendWithGuildID", events.Action{Op: "send", ChatID: "c1", Content: "hi", Metadata: map[string]any{"guild_id": "g1"}}, "discord", 0, map[string]any{"success": true, "message_id": "m-4"}},
		{"GuildTypingWithUser", events.Action{Op: "typing", ChatID: "c1", Metadata: map[string]any{"user_id": "u1"}}, "discord", 0, ok},
		{"GuildChatOtherPlatform", events.Action{Op: "typing", ChatID: "c1"}, "telegram", 0, ok},
		{"FollowUp", events.Action{Op: "follow_up", SessionKey: "agent:main:discord:group:c1:u1", Kind: events.FollowUpKindDiscord, Content: "done"}, "discord", 0, map[string]any{"success": true, "message_id": "m-5"}},
		{"FollowUpMissing", events.Action{Op: "follow_up", SessionKey: "agent:main:discord:group:c1:u9", Kind: events.FollowUpKindDiscord, Content: "done"}, "discord", 0, map[string]any{"success": false, "error": "no interaction token for session"}},
		{"FollowUpOtherKind", events.Action{Op: "follow_up", SessionKey: "agent:main:discord:dm:d1", Kind: "slack.response_url", Content: "x"}, "", 0, map[string]any{"success": false, "error": "unsupported follow_up kind slack.response_url"}},
		{"FollowUpJustInTime", events.Action{Op: "follow_up", SessionKey: "agent:main:discord:dm:d1", Kind: events.FollowUpKindDiscord, Content: "x"}, "", 15 * time.Minute, map[string]any{"success": true, "message_id": "m-6"}},
		{"FollowUpExpired", events.Action{Op: "follow_up", SessionKey: "agent:main:discord:dm:d1", Kind: events.FollowUpKindDiscord, Content: "x"}, "", time.Second, map[string]any{"success": false, "error": "interaction token expired"}},
		{"MissingField", events.Action{Op: "send", ChatID: "d1"}, "", 0, map[string]any{"success": false, "error": "send needs a non-empty content"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock.Advance(tt.advance)
			got := g.outbound("req-"+tt.name, tt.action, tt.platform)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("result mismatch (-want +got):\n%s", diff)
			}
			recs := s.Outbound()
			if len(recs) != i+1 {
				t.Fatalf("len(Outbound()) = %d, want %d", len(recs), i+1)
			}
			rec := recs[i]
			if rec.RequestID != "req-"+tt.name || rec.Platform != tt.platform || rec.Action.Op != tt.action.Op || rec.Action.ChatID != tt.action.ChatID || !rec.ReceivedAt.Equal(clock.Now()) {
				t.Errorf("record = %+v", rec)
			}
			if diff := cmp.Diff(tt.want, rec.Result); diff != "" {
				t.Errorf("recorded result mismatch (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("UnknownOp", func(t *testing.T) {
		g.sendText(`{"type":"outbound","requestId":"r-x","action":{"op":"teleport","chat_id":"c"}}` + "\n")
		f := g.expect(wire.FrameOutboundResult)
		r, _ := events.ParseResult(f.Result)
		if r.Success || r.Error != "unsupported op teleport" {
			t.Errorf("result = %+v", r)
		}
	})
	t.Run("BadAction", func(t *testing.T) {
		g.sendText(`{"type":"outbound","requestId":"r-y","action":"send"}` + "\n" + `{"type":"outbound","requestId":"r-z","action":{"op":"react","remove":"yes"}}` + "\n")
		for _, id := range []string{"r-y", "r-z"} {
			f := g.expect(wire.FrameOutboundResult)
			r, _ := events.ParseResult(f.Result)
			if f.RequestID != id || r.Success || r.Error == "" {
				t.Errorf("result %s = %+v", f.RequestID, r)
			}
		}
	})
	t.Run("GetOutbound", func(t *testing.T) {
		var recs []map[string]any
		getJSON(t, s, "/outbound", &recs)
		if len(recs) != len(tests)+3 {
			t.Fatalf("GET /outbound: %d records, want %d", len(recs), len(tests)+3)
		}
		want := map[string]any{
			"requestId":   "req-Send",
			"platform":    "discord",
			"action":      map[string]any{"op": "send", "chat_id": "d1", "content": "hi", "reply_to": nil, "metadata": map[string]any{}},
			"result":      map[string]any{"success": true, "message_id": "m-1"},
			"received_at": recs[0]["received_at"],
		}
		if diff := cmp.Diff(want, recs[0]); diff != "" {
			t.Errorf("GET /outbound[0] mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestAnswerHook(t *testing.T) {
	var seen []string
	s := newServer(t, devconnector.Config{Answer: func(a events.Action) map[string]any {
		seen = append(seen, a.Op) // called from the single reader goroutine
		if a.Op == events.OpSend {
			return map[string]any{"success": false, "error": "rate limited", "code": "rate_limited"}
		}
		return nil
	}})
	g := connected(t, s)
	if got := g.outbound("r1", events.Action{Op: "send", ChatID: "c", Content: "x"}, ""); got["error"] != "rate limited" || got["code"] != "rate_limited" {
		t.Errorf("send = %v, want the hook's answer", got)
	}
	if got := g.outbound("r2", events.Action{Op: "typing", ChatID: "c"}, ""); got["success"] != true {
		t.Errorf("typing = %v, want the default answer", got)
	}
	recs, err := s.WaitOutbound(ctxTimeout(t), 2)
	if err != nil || len(recs) != 2 {
		t.Fatalf("WaitOutbound = %d records, %v", len(recs), err)
	}
	if diff := cmp.Diff([]string{"send", "typing"}, seen); diff != "" {
		t.Errorf("hook calls mismatch (-want +got):\n%s", diff)
	}
}

func TestInterruptAndGoingIdle(t *testing.T) {
	clock := newClock()
	s := newServer(t, devconnector.Config{Now: clock.Now})
	g := connected(t, s)
	g.sendText(string(wire.AppendInterrupt(nil, "agent:main:discord:dm:1", nil)))
	g.sendText(string(wire.AppendInterrupt(nil, "agent:main:discord:dm:2", strp("user stop"))))
	if err := s.WaitInterrupts(ctxTimeout(t), 2); err != nil {
		t.Fatal(err)
	}
	want := []devconnector.InterruptRecord{
		{SessionKey: "agent:main:discord:dm:1", ReceivedAt: clock.Now()},
		{SessionKey: "agent:main:discord:dm:2", Reason: strp("user stop"), ReceivedAt: clock.Now()},
	}
	if diff := cmp.Diff(want, s.Interrupts()); diff != "" {
		t.Errorf("Interrupts() mismatch (-want +got):\n%s", diff)
	}

	g.sendText(string(wire.AppendGoingIdle(nil)))
	g.expect(wire.FrameGoingIdleAck)
	if !s.State().Idle {
		t.Error("state idle = false after going_idle")
	}
	// While idle, frames are only buffered. The writer pulls the buffer in
	// the same pass that writes a result, so the result arriving first
	// proves the frame was held back.
	id := s.Emit(wire.FrameInbound, map[string]any{"event": map[string]any{"text": "later"}})
	if got := g.outbound("r1", events.Action{Op: "typing", ChatID: "x"}, ""); got["success"] != true {
		t.Fatalf("typing = %v", got)
	}
	if s.Buffered() != 1 {
		t.Errorf("Buffered() = %d, want 1", s.Buffered())
	}
	s.DropConnection()
	g.closeError()
	g2 := connected(t, s)
	expectBuffered(t, g2, id)
}

func TestHTTPMethods(t *testing.T) {
	s := newServer(t, devconnector.Config{})
	resp, err := http.Get(s.URL() + "/interactions")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /interactions = %d, want 405", resp.StatusCode)
	}
	resp, err = http.Get(s.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET / = %d, want 200", resp.StatusCode)
	}
}

// TestOutboundDelay: an action Delay names is recorded when read and
// answered after its delay, while the actions read after it are answered
// at once.
func TestOutboundDelay(t *testing.T) {
	const d = 300 * time.Millisecond
	s := newServer(t, devconnector.Config{Delay: func(a events.Action) time.Duration {
		if a.ChatID == "slow" {
			return d
		}
		return 0
	}})
	g := connected(t, s)
	for i, chat := range []string{"slow", "fast"} {
		act := events.Action{Op: "send", ChatID: chat, Content: "hi"}
		a, err := act.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		g.sendText(string(wire.AppendOutbound(nil, "r-"+chat, a, "", "")))
		if i == 0 {
			eventually(t, "the slow action recorded", func() bool { return len(s.Outbound()) == 1 })
		}
	}
	start := time.Now()
	if f := g.expect(wire.FrameOutboundResult); f.RequestID != "r-fast" {
		t.Fatalf("first answer for %q, want r-fast", f.RequestID)
	}
	if f := g.expect(wire.FrameOutboundResult); f.RequestID != "r-slow" {
		t.Fatalf("second answer for %q, want r-slow", f.RequestID)
	}
	if waited := time.Since(start); waited < d/2 {
		t.Errorf("the slow action was answered %v after the fast one, want about %v", waited, d)
	}
	if recs := s.Outbound(); len(recs) != 2 || recs[0].Action.ChatID != "slow" || recs[0].Result["success"] != true {
		t.Errorf("records = %+v, want the slow action first, answered with success", recs)
	}
}

func TestRecordLimit(t *testing.T) {
	s := newServer(t, devconnector.Config{RecordLimit: 3})
	g := connected(t, s)
	for i := range 10 {
		g.outbound(fmt.Sprint("r", i), events.Action{Op: "typing", ChatID: "c"}, "")
		g.sendText(string(wire.AppendInterrupt(nil, fmt.Sprint("k", i), nil)))
	}
	recs, err := s.WaitOutbound(ctxTimeout(t), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].RequestID != "r7" || recs[2].RequestID != "r9" {
		t.Errorf("records = %d, first %q last %q; want 3 r7..r9", len(recs), recs[0].RequestID, recs[len(recs)-1].RequestID)
	}
	if err := s.WaitInterrupts(ctxTimeout(t), 10); err != nil {
		t.Fatal(err)
	}
	if irs := s.Interrupts(); len(irs) != 3 || irs[2].SessionKey != "k9" {
		t.Errorf("interrupts = %+v", irs)
	}
	if st := s.State(); st.OutboundCount != 10 || st.Interrupts != 10 {
		t.Errorf("counts = %d %d, want 10 10", st.OutboundCount, st.Interrupts)
	}
}
