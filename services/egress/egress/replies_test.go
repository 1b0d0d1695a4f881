package egress_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/services/egress/egress"
)

// TestConnectionLostIsAmbiguous: ws-edge wrote the frame and lost the
// socket before its result. The action is reported ambiguous and never
// written again (contract §1).
func TestConnectionLostIsAmbiguous(t *testing.T) {
	e, resp := newRunning(t, func(int, edgeRequest) string {
		return `{"success":false,"error":"relay transport connection lost","ambiguous":true}`
	})
	res := e.send("lost", events.Action{Op: events.OpSend, ChatID: "c", Content: "hi"})
	want := events.SendResult{Error: events.ErrTextConnLost, Ambiguous: true}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	e.wantEdgeRequests(resp, 1, "never retried")
	if got := e.metric("relay_egress_ambiguous_total", "cause=connection_lost"); got != 1 {
		t.Errorf("ambiguous{connection_lost} = %v, want 1", got)
	}
	if got := e.metric("relay_egress_retries_total"); got != 0 {
		t.Errorf("retries = %v, want 0", got)
	}
}

// TestInterruptedWriteNotWrittenAgain: an egress replica stops after its
// edge request went out and before its result is stored (here: it runs as a
// user that may neither store results nor ack, so its request is the last
// thing it gets done). The redelivered action finds the replica's "begun"
// note and no result: once the note is older than a write can take
// (EGRESS_EDGE_TIMEOUT + 5 s: until then another replica could still be
// writing it), it is answered ambiguous and not written again.
func TestInterruptedWriteNotWrittenAgain(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for an ack wait to expire")
	}
	e := newLimitedEnv(t, "$JS.ACK.>", events.ResultsSubjectPrefix+">")
	resp := newResponder(t, e.ns, ok, asAdmin)
	cfg := testConfig()
	cfg.AckWait = time.Second
	cfg.EdgeTimeout = time.Second
	e.startLimited(cfg)
	sub := e.results("once")
	e.publish(events.OpSend, "once", events.ContentTypeMsgpack, events.Action{Op: events.OpSend, ChatID: "c", Content: "hi"})
	resp.waitFirst()
	e.stop() // the replica is gone: the frame was written, no result stored

	e.start(cfg, asAdmin)
	res := nextResult(t, sub)
	if diff := cmp.Diff(events.ResultInterrupted, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	e.wantEdgeRequests(resp, 1, "")
	if got := e.metric("relay_egress_ambiguous_total", "cause=interrupted"); got != 1 {
		t.Errorf("ambiguous{interrupted} = %v, want 1", got)
	}
}

// TestNotWrittenRetryIsNotTakenForInterrupted: a "not connected" answer
// supersedes the "begun" note, so the redelivery that retries the action
// writes it (it is not answered ambiguous).
func TestNotWrittenRetryIsNotTakenForInterrupted(t *testing.T) {
	e, resp := newRunning(t, func(n int, r edgeRequest) string {
		if n == 1 {
			return `{"success":false,"error":"relay transport not connected"}`
		}
		return ok(n, r)
	})
	res := e.send("retry", events.Action{Op: events.OpSend, ChatID: "c", Content: "hi"})
	if !res.Success || res.MessageID != "m2" {
		t.Errorf("result = %+v, want success m2", res)
	}
	e.wantEdgeRequests(resp, 2, "")
}

// TestNotWrittenNoteWaitsForTheStream: when the "not written" note cannot
// be stored at once (no stream takes its subject for a while, as while the
// results stream elects a leader after a NATS node was lost), egress asks
// again until it is stored, so that the retry writes the action instead of
// answering ambiguous.
func TestNotWrittenNoteWaitsForTheStream(t *testing.T) {
	var e *env
	restored := make(chan error, 1)
	e, resp := newRunning(t, func(n int, r edgeRequest) string {
		if n > 1 {
			return ok(n, r)
		}
		// Written "begun" already; now the notes' subject goes away for a
		// second, then comes back, data kept.
		ctx := context.Background()
		st, err := e.js.Stream(ctx, events.ResultsStream)
		if err != nil {
			t.Errorf("results stream: %v", err)
			return ok(n, r)
		}
		cfg := st.CachedInfo().Config
		want := cfg.Subjects
		cfg.Subjects = []string{events.ResultsSubjectPrefix + ">"}
		if _, err := e.js.UpdateStream(ctx, cfg); err != nil {
			t.Errorf("dropping the notes' subject: %v", err)
		}
		go func() {
			time.Sleep(time.Second)
			cfg.Subjects = want
			_, err := e.js.UpdateStream(ctx, cfg)
			restored <- err
		}()
		return `{"success":false,"error":"relay transport not connected"}`
	})
	res := e.send("nw", events.Action{Op: events.OpSend, ChatID: "c", Content: "hi"})
	if err := <-restored; err != nil {
		t.Fatalf("restoring the notes' subject: %v", err)
	}
	if !res.Success || res.MessageID != "m2" {
		t.Errorf("result = %+v, want success m2 (the retry writes it)", res)
	}
	e.wantEdgeRequests(resp, 2, "")
}

// TestIdentityOfAReply: with two identities configured, every frame for a
// chat carries the identity its traffic came in on, unless the action
// names its own; with one identity nothing is added.
func TestIdentityOfAReply(t *testing.T) {
	e := newEnv(t)
	e.putScope("telegram", "t1", events.Scope{UserID: "u1", Platform: "telegram", ChatType: events.ChatDM, BotID: "tg-bot"})
	e.putScope("discord", "d1", events.Scope{ScopeID: "g1", Platform: "discord", ChatType: events.ChatGroup})
	cfg := testConfig()
	cfg.Identities = events.Identities{{Platform: "discord", BotID: "dc-bot"}, {Platform: "telegram", BotID: "tg-config"}}
	cfg.PrimaryPlatform = "discord"
	e.start(cfg)
	e.waitStatus("scopes", func(s egress.Status) bool { return s.ScopeEntries == 2 })
	resp := newResponder(t, e.ns, ok)

	tests := []struct {
		name                  string
		action                events.Action
		wantPlatform, wantBot string
	}{
		{"TelegramChatRecordedBot", events.Action{Op: events.OpSend, ChatID: "t1", Content: "hi"}, "telegram", "tg-bot"},
		{"DiscordChatConfiguredBot", events.Action{Op: events.OpSend, ChatID: "d1", Content: "hi"}, "discord", "dc-bot"},
		{"Typing", events.Action{Op: events.OpTyping, ChatID: "t1"}, "telegram", "tg-bot"},
		{"FollowUpBySessionKey", events.Action{Op: events.OpFollowUp, SessionKey: "agent:main:telegram:dm:t1", Kind: "x", Content: "ok"}, "telegram", "tg-bot"},
		{"FollowUpUnknownChat", events.Action{Op: events.OpFollowUp, SessionKey: "agent:main:discord:group:zz:u", Kind: events.FollowUpKindDiscord, Content: "ok"}, "discord", "dc-bot"},
		{"ActionNamesItsOwn", events.Action{Op: events.OpSend, ChatID: "t1", Content: "hi", Platform: "discord", BotID: "other"}, "discord", "other"},
		{"ActionNamesOtherPlatformOnly", events.Action{Op: events.OpSend, ChatID: "t1", Content: "hi", Platform: "discord"}, "discord", "dc-bot"},
		{"ActionNamesChatPlatformOnly", events.Action{Op: events.OpSend, ChatID: "t1", Content: "hi", Platform: "telegram"}, "telegram", "tg-bot"},
		{"FollowUpNamesPlatform", events.Action{Op: events.OpFollowUp, SessionKey: "agent:main:telegram:dm:t1", Kind: "x", Content: "ok", Platform: "telegram"}, "telegram", "tg-bot"},
		{"UnknownChatUntagged", events.Action{Op: events.OpSend, ChatID: "nobody", Content: "hi"}, "", ""},
		{"ActionNamesBotOnly", events.Action{Op: events.OpSend, ChatID: "t1", Content: "hi", BotID: "tg-other"}, "telegram", "tg-other"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if res := e.send(tt.name, tt.action); !res.Success {
				t.Fatalf("result = %+v", res)
			}
			req := resp.requests()[i]
			if p, b := req.Header.Get(events.PlatformHeader), req.Header.Get(events.BotIDHeader); p != tt.wantPlatform || b != tt.wantBot {
				t.Errorf("identity = %q/%q, want %q/%q", p, b, tt.wantPlatform, tt.wantBot)
			}
		})
	}
	// Tagged by egress: an action naming both is not counted, one naming
	// its platform only is (its bot was filled in).
	for p, want := range map[string]float64{"telegram": 6, "discord": 3} {
		if got := e.metric("relay_egress_identity_tags_total", "platform="+p); got != want {
			t.Errorf("identity tags{%s} = %v, want %v", p, got, want)
		}
	}
}

// TestSingleIdentityAddsNothing: one identity, the chat's record names a
// bot; the frame goes out as the agent wrote it.
func TestSingleIdentityAddsNothing(t *testing.T) {
	e := newEnv(t)
	e.putScope("discord", "d1", events.Scope{ScopeID: "g1", Platform: "discord", ChatType: events.ChatGroup, BotID: "dc-bot"})
	cfg := testConfig()
	cfg.Identities = events.Identities{{Platform: "discord", BotID: "dc-bot"}}
	e.start(cfg)
	e.waitStatus("scopes", func(s egress.Status) bool { return s.ScopeEntries == 1 })
	resp := newResponder(t, e.ns, ok)
	if res := e.send("one", events.Action{Op: events.OpSend, ChatID: "d1", Content: "hi"}); !res.Success {
		t.Fatalf("result = %+v", res)
	}
	h := resp.requests()[0].Header
	if h.Get(events.PlatformHeader) != "" || h.Get(events.BotIDHeader) != "" {
		t.Errorf("identity headers %v, want none with one identity", h)
	}
}

// TestConcurrentCopiesWriteOnce: two replicas hold the same action at
// once: the first cannot keep it alive (here: it may not ack, so no
// in-progress either, as when a starved process misses its keep-alives),
// so the server redelivers it, through the shared durable, while the first
// is still writing it. The second finds a fresh "begun" note and waits for
// the first one's result instead of writing it again; the "begun" note is
// also a compare-and-set, so two first attempts cannot both begin.
func TestConcurrentCopiesWriteOnce(t *testing.T) {
	e := newLimitedEnv(t, "$JS.ACK.>")
	e.putDescriptor("discord", map[string]any{"max_message_length": 2000})
	resp := newResponder(t, e.ns, func(n int, req edgeRequest) string {
		time.Sleep(3 * time.Second) // a slow connector: longer than the ack wait
		return ok(n, req)
	}, asAdmin)
	cfg := testConfig()
	cfg.AckWait = time.Second
	e.startLimited(cfg)
	sub := e.results("twice")
	e.publish(events.OpSend, "twice", events.ContentTypeMsgpack, events.Action{Op: events.OpSend, ChatID: "c", Content: "hi"})
	resp.waitFirst()
	e.start(cfg, asAdmin) // takes the redeliveries
	if res := nextResult(t, sub); !res.Success {
		t.Errorf("result %+v, want success", res)
	}
	time.Sleep(3 * time.Second) // more redeliveries come and go
	if got := resp.count(); got != 1 {
		t.Errorf("edge requests = %d, want exactly 1 (one replica writes)", got)
	}
}

// TestNotesOnlyWhereAWriteMustNotRepeat: a send takes a before-write
// note; a typing indicator and an interrupt, whose second write changes
// nothing, take none (one durable write fewer each).
func TestNotesOnlyWhereAWriteMustNotRepeat(t *testing.T) {
	e, _ := newRunning(t, ok)
	for _, a := range []struct {
		id   string
		a    events.Action
		note bool
	}{
		{"a-send", events.Action{Op: events.OpSend, ChatID: "c", Content: "hi"}, true},
		{"a-typing", events.Action{Op: events.OpTyping, ChatID: "c"}, false},
		{"a-interrupt", events.Action{Op: events.OpInterrupt, SessionKey: "agent:main:discord:group:c"}, false},
	} {
		if res := e.send(a.id, a.a); !res.Success {
			t.Fatalf("%s: %+v", a.a.Op, res)
		}
		st, err := e.js.Stream(t.Context(), events.ResultsStream)
		if err != nil {
			t.Fatal(err)
		}
		_, err = st.GetLastMsgForSubject(t.Context(), events.WritingSubject(a.id))
		if got := err == nil; got != a.note {
			t.Errorf("%s: a before-write note stored = %v (%v), want %v", a.a.Op, got, err, a.note)
		}
	}
}
