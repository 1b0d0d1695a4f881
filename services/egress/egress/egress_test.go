package egress_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/services/egress/egress"
)

func TestScopeReattached(t *testing.T) {
	guild := events.Scope{ScopeID: "g1", UserID: "u1", Platform: "discord", ChatType: events.ChatGroup, Profile: "coder"}
	type scopeRec struct {
		platform, chat string
		scope          events.Scope
	}
	tests := []struct {
		name    string
		scopes  []scopeRec
		primary string
		action  events.Action
		want    map[string]any
	}{
		{
			name:   "GuildChatGetsScopeAndProfile",
			scopes: []scopeRec{{"discord", "chan1", guild}},
			action: events.Action{Op: events.OpSend, ChatID: "chan1", Content: "hi", ReplyTo: strptr("m0")},
			want:   map[string]any{"scope_id": "g1", "guild_id": "g1", "profile": "coder"},
		},
		{
			name:   "ExplicitScopePreserved",
			scopes: []scopeRec{{"discord", "chan1", guild}},
			action: events.Action{Op: events.OpSend, ChatID: "chan1", Content: "hi", Metadata: map[string]any{"scope_id": "mine", "profile": "p2"}},
			want:   map[string]any{"scope_id": "mine", "guild_id": "mine", "profile": "p2"},
		},
		{
			name:   "ExplicitLegacyGuildIDMirrored",
			scopes: []scopeRec{{"discord", "chan1", guild}},
			action: events.Action{Op: events.OpEdit, ChatID: "chan1", MessageID: "m1", Content: "fixed", Metadata: map[string]any{"guild_id": "legacy", "extra": true}},
			want:   map[string]any{"scope_id": "legacy", "guild_id": "legacy", "profile": "coder", "extra": true},
		},
		{
			name:   "DMGetsUserID",
			scopes: []scopeRec{{"telegram", "5", events.Scope{UserID: "u9", Platform: "telegram", ChatType: events.ChatDM}}},
			action: events.Action{Op: events.OpSend, ChatID: "5", Content: "hi"},
			want:   map[string]any{"user_id": "u9"},
		},
		{
			name:   "GroupWithoutScopeIDGetsAuthor",
			scopes: []scopeRec{{"slack", "C1", events.Scope{UserID: "U2", Platform: "slack", ChatType: events.ChatGroup}}},
			action: events.Action{Op: events.OpTyping, ChatID: "C1"},
			want:   map[string]any{"user_id": "U2"},
		},
		{
			name:   "UnknownChatGetsNone",
			scopes: []scopeRec{{"discord", "chan1", guild}},
			action: events.Action{Op: events.OpSend, ChatID: "elsewhere", Content: "hi"},
			want:   map[string]any{},
		},
		{
			name: "ActionPlatformPicksScope",
			scopes: []scopeRec{
				{"discord", "42", guild},
				{"telegram", "42", events.Scope{UserID: "t1", Platform: "telegram", ChatType: events.ChatDM}},
			},
			action: events.Action{Op: events.OpSend, ChatID: "42", Content: "hi", Platform: "telegram"},
			want:   map[string]any{"user_id": "t1"},
		},
		{
			name: "SharedChatIDPrefersPrimary",
			scopes: []scopeRec{
				{"telegram", "42", events.Scope{UserID: "t1", Platform: "telegram", ChatType: events.ChatDM}},
				{"discord", "42", guild},
			},
			primary: "discord",
			action:  events.Action{Op: events.OpSend, ChatID: "42", Content: "hi"},
			want:    map[string]any{"scope_id": "g1", "guild_id": "g1", "profile": "coder"},
		},
		{
			name: "SharedChatIDWithoutPrimaryGetsNone",
			scopes: []scopeRec{
				{"telegram", "42", events.Scope{UserID: "t1", Platform: "telegram", ChatType: events.ChatDM}},
				{"discord", "42", guild},
			},
			action: events.Action{Op: events.OpSend, ChatID: "42", Content: "hi"},
			want:   map[string]any{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			for _, s := range tt.scopes {
				e.putScope(s.platform, s.chat, s.scope)
			}
			cfg := testConfig()
			cfg.PrimaryPlatform = tt.primary
			e.start(cfg)
			resp := newResponder(t, e.ns, ok)

			res := e.send("a1", tt.action)
			if diff := cmp.Diff(events.SendResult{Success: true, MessageID: "m1"}, res); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			reqs := resp.requests()
			if len(reqs) != 1 {
				t.Fatalf("edge requests = %d, want 1", len(reqs))
			}
			if diff := cmp.Diff(tt.want, reqs[0].Action["metadata"]); diff != "" {
				t.Errorf("metadata (-want +got):\n%s", diff)
			}
			if got := reqs[0].Action["chat_id"]; got != tt.action.ChatID {
				t.Errorf("chat_id = %v, want %q", got, tt.action.ChatID)
			}
			if got, want := reqs[0].Header.Get(events.PlatformHeader), tt.action.Platform; got != want {
				t.Errorf("%s = %q, want %q", events.PlatformHeader, got, want)
			}
		})
	}
}

func TestScopeWrittenAfterStartIsUsed(t *testing.T) {
	e, resp := newRunning(t, ok)
	if got := e.status().ScopeEntries; got != 0 {
		t.Fatalf("scope entries at start = %d, want 0", got)
	}

	e.putScope("discord", "late", events.Scope{ScopeID: "g7", Platform: "discord", ChatType: events.ChatGroup})
	e.waitStatus("watcher picked up the scope", func(s egress.Status) bool { return s.ScopeEntries == 1 })

	e.send("a1", events.Action{Op: events.OpSend, ChatID: "late", Content: "hi"})
	want := map[string]any{"scope_id": "g7", "guild_id": "g7"}
	if diff := cmp.Diff(want, resp.requests()[0].Action["metadata"]); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	if got := e.metric("relay_egress_scope_cache_hits_total"); got != 1 {
		t.Errorf("scope cache hits = %v, want 1 (served from the watched cache)", got)
	}
	if got := e.metric("relay_egress_scope_kv_gets_total", "result=found"); got != 0 {
		t.Errorf("scope KV gets = %v, want 0", got)
	}
}

// TestReplyRacingScopeWriteGetsScope publishes a reply right after the
// scope write: whether the watcher or the fallback KV get serves it, the
// reply carries the scope.
func TestReplyRacingScopeWriteGetsScope(t *testing.T) {
	e := newEnv(t)
	cfg := testConfig()
	cfg.PrimaryPlatform = "discord"
	e.start(cfg)
	resp := newResponder(t, e.ns, ok)

	e.putScope("discord", "race", events.Scope{ScopeID: "g8", Platform: "discord", ChatType: events.ChatGroup})
	e.send("a1", events.Action{Op: events.OpSend, ChatID: "race", Content: "hi"})
	want := map[string]any{"scope_id": "g8", "guild_id": "g8"}
	if diff := cmp.Diff(want, resp.requests()[0].Action["metadata"]); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	hits, gets := e.metric("relay_egress_scope_cache_hits_total"), e.metric("relay_egress_scope_kv_gets_total", "result=found")
	if hits+gets != 1 {
		t.Errorf("hits %v + found gets %v = %v, want 1", hits, gets, hits+gets)
	}
}

// TestScopeWatcherSurvivesRestart restarts the server under a running
// egress: the watch is re-created and sees records written afterwards.
func TestScopeWatcherSurvivesRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts the server")
	}
	dir := t.TempDir()
	ns := natstest.RunServer(t, natstest.WithStoreDir(dir))
	cfg := testConfig()
	cfg.Bus.Memory = false // the records must survive the restart
	e := attachEnvBus(t, ns, cfg.Bus)
	e.putScope("discord", "before", events.Scope{ScopeID: "g1", Platform: "discord", ChatType: events.ChatGroup})
	e.start(cfg)
	e.waitStatus("snapshot", func(s egress.Status) bool { return s.ScopeEntries == 1 })
	watches := e.status().ScopeWatches

	e.ns = natstest.Restart(t, ns, dir)
	t.Cleanup(e.stop) // before the restarted server's shutdown (cleanups run last-in first-out)
	natstest.WaitFor(t, 10*time.Second, func() error {
		if !e.nc.IsConnected() {
			return fmt.Errorf("test connection not back")
		}
		return nil
	})
	e.putScope("discord", "after", events.Scope{ScopeID: "g2", Platform: "discord", ChatType: events.ChatGroup})
	e.waitStatus("update after restart", func(s egress.Status) bool {
		return s.ScopeEntries == 2 && s.ScopeSynced && s.ScopeWatches > watches
	})

	resp := newResponder(t, e.ns, ok)
	e.send("a1", events.Action{Op: events.OpSend, ChatID: "after", Content: "hi"})
	if diff := cmp.Diff(map[string]any{"scope_id": "g2", "guild_id": "g2"}, resp.requests()[0].Action["metadata"]); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	if got := e.metric("relay_egress_scope_cache_hits_total"); got != 1 {
		t.Errorf("scope cache hits = %v, want 1", got)
	}
}

// fenced reports whether every ``` fence opened in s is closed in s.
func fenced(s string) bool {
	n := 0
	for line := range strings.SplitSeq(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			n++
		}
	}
	return n%2 == 0
}

func TestLongSendSplitInOrder(t *testing.T) {
	e := newEnv(t)
	e.putDescriptor("discord", map[string]any{"max_message_length": 2000, "markdown_dialect": "discord"})
	e.putScope("discord", "chan1", events.Scope{ScopeID: "g1", Platform: "discord", ChatType: events.ChatGroup})
	e.start(testConfig())
	e.waitStatus("descriptor", func(s egress.Status) bool { return s.Descriptors == 1 })
	resp := newResponder(t, e.ns, ok)

	var b strings.Builder
	for i := 0; b.Len() < 1200; i++ {
		fmt.Fprintf(&b, "Paragraph sentence number %d explains the plan in plain words.\n", i)
	}
	b.WriteString("\n```go\n")
	for i := 0; b.Len() < 3800; i++ {
		fmt.Fprintf(&b, "fmt.Println(\"line %04d of the example program\")\n", i)
	}
	b.WriteString("```\n\n")
	for i := 0; b.Len() < 5000; i++ {
		fmt.Fprintf(&b, "Closing words %d. ", i)
	}
	text := b.String()[:5000]
	if n := utf8.RuneCountInString(text); n != 5000 {
		t.Fatalf("test text has %d chars, want 5000", n)
	}

	res := e.send("long", events.Action{Op: events.OpSend, ChatID: "chan1", Content: text, ReplyTo: strptr("orig")})
	want := events.SendResult{Success: true, MessageID: "m1", ContinuationMessageIDs: []string{"m2", "m3"}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	reqs := resp.requests()
	if len(reqs) != 3 {
		t.Fatalf("edge requests = %d, want 3", len(reqs))
	}
	var joined strings.Builder
	for i, r := range reqs {
		content, _ := r.Action["content"].(string)
		if n := utf8.RuneCountInString(content); n > 2000 {
			t.Errorf("part %d has %d chars, want <= 2000", i+1, n)
		}
		if !fenced(content) {
			t.Errorf("part %d leaves a code fence open:\n%s", i+1, content)
		}
		wantReply := any(nil)
		if i == 0 {
			wantReply = "orig"
		}
		if got := r.Action["reply_to"]; got != wantReply {
			t.Errorf("part %d reply_to = %v, want %v", i+1, got, wantReply)
		}
		if diff := cmp.Diff(map[string]any{"scope_id": "g1", "guild_id": "g1"}, r.Action["metadata"]); diff != "" {
			t.Errorf("part %d metadata (-want +got):\n%s", i+1, diff)
		}
		joined.WriteString(content)
	}
	// In order: the parts carry the text front to back.
	if !strings.HasPrefix(reqs[0].Action["content"].(string), "Paragraph sentence number 0 ") {
		t.Errorf("part 1 does not start the text")
	}
	last := reqs[2].Action["content"].(string)
	if !strings.HasSuffix(strings.TrimSpace(text), strings.TrimSpace(last[max(0, len(last)-20):])) {
		t.Errorf("part 3 does not end the text: ...%q", last[max(0, len(last)-40):])
	}
	if got, want := strings.Count(joined.String(), "line 0"), strings.Count(text, "line 0"); got != want {
		t.Errorf("code lines in parts = %d, want %d", got, want)
	}
}

func TestSplitCountsInDescriptorUnit(t *testing.T) {
	text := strings.Repeat("😀", 1500) // 1500 code points, 3000 UTF-16 units
	tests := []struct {
		name      string
		unit      string
		wantParts int
	}{
		{"UTF16CountsEmojiAsTwo", "utf16", 2},
		{"CharsCountsEmojiAsOne", "chars", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.putDescriptor("telegram", map[string]any{"max_message_length": 2000, "len_unit": tt.unit, "markdown_dialect": "markdown_v2"})
			e.start(testConfig())
			e.waitStatus("descriptor", func(s egress.Status) bool { return s.Descriptors == 1 })
			resp := newResponder(t, e.ns, ok)

			res := e.send("emoji", events.Action{Op: events.OpSend, ChatID: "5", Content: text})
			if !res.Success || len(res.ContinuationMessageIDs) != tt.wantParts-1 {
				t.Errorf("result = %+v, want success with %d continuation ids", res, tt.wantParts-1)
			}
			reqs := resp.requests()
			if len(reqs) != tt.wantParts {
				t.Fatalf("edge requests = %d, want %d", len(reqs), tt.wantParts)
			}
			var joined strings.Builder
			for i, r := range reqs {
				content := r.Action["content"].(string)
				if n := len(utf16.Encode([]rune(content))); tt.unit == "utf16" && n > 2000 {
					t.Errorf("part %d is %d UTF-16 units, want <= 2000", i+1, n)
				}
				joined.WriteString(content)
			}
			if joined.String() != text {
				t.Errorf("parts joined differ from the text")
			}
		})
	}
}

func TestSplitPartFailureReportsSentIDs(t *testing.T) {
	e := newEnv(t)
	e.putDescriptor("discord", map[string]any{"max_message_length": 2000})
	e.start(testConfig())
	e.waitStatus("descriptor", func(s egress.Status) bool { return s.Descriptors == 1 })
	resp := newResponder(t, e.ns, func(n int, _ edgeRequest) string {
		if n == 2 {
			return `{"success":false,"error":"rate limited"}`
		}
		return ok(n, edgeRequest{})
	})
	res := e.send("long", events.Action{Op: events.OpSend, ChatID: "c", Content: strings.Repeat("word ", 1000)})
	want := events.SendResult{Success: false, MessageID: "m1", Error: "part 2 of 3 not sent: rate limited"}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	e.wantEdgeRequests(resp, 2, "nothing after the failed part, nothing resent")
}

func TestOpGating(t *testing.T) {
	tests := []struct {
		name   string
		desc   map[string]any // nil: no descriptor stored
		action events.Action
		sent   bool
	}{
		{"ListedOpSent", map[string]any{"supported_ops": []string{"send", "react"}}, events.Action{Op: events.OpReact, ChatID: "c", MessageID: "m", Emoji: "👍"}, true},
		{"UnlistedOpRefused", map[string]any{"supported_ops": []string{"send"}}, events.Action{Op: events.OpReact, ChatID: "c", MessageID: "m", Emoji: "👍"}, false},
		{"EmptyListIsLegacySet", map[string]any{}, events.Action{Op: events.OpDelete, ChatID: "c", MessageID: "m"}, false},
		{"PlaceholderAllowsLegacyOp", nil, events.Action{Op: events.OpEdit, ChatID: "c", MessageID: "m", Content: "x"}, true},
		{"PlaceholderRefusesDelete", nil, events.Action{Op: events.OpDelete, ChatID: "c", MessageID: "m"}, false},
		{"InterruptNotGated", map[string]any{"supported_ops": []string{"send"}}, events.Action{Op: events.OpInterrupt, SessionKey: "agent:main:discord:dm:1"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.desc != nil {
				e.putDescriptor("discord", tt.desc)
			}
			e.start(testConfig())
			if tt.desc != nil {
				e.waitStatus("descriptor", func(s egress.Status) bool { return s.Descriptors == 1 })
			}
			resp := newResponder(t, e.ns, ok)
			res := e.send("a1", tt.action)
			want := events.SendResult{Success: true, MessageID: "m1"}
			if !tt.sent {
				want = events.SendResult{Error: "op " + tt.action.Op + " not supported by the connector", Code: events.ReasonOpUnsupported}
			}
			if diff := cmp.Diff(want, res); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			e.settled()
			wantReqs := 0
			if tt.sent {
				wantReqs = 1
			}
			if got := resp.count(); got != wantReqs {
				t.Errorf("edge requests = %d, want %d", got, wantReqs)
			}
			if n := len(e.deadLetters()); n != 0 {
				t.Errorf("dead letters = %d, want 0 (a refused op is acked)", n)
			}
			if !tt.sent {
				if got := e.metric("relay_egress_actions_total", "op="+tt.action.Op, "outcome=unsupported"); got != 1 {
					t.Errorf("unsupported count = %v, want 1", got)
				}
			}
		})
	}
}

func TestDeliveredOnceEdgeIsBack(t *testing.T) {
	tests := []struct {
		name string
		// early answers before success; nil: no responder at all at first.
		early []string
	}{
		{"NoResponderYet", nil},
		{"NotConnected", []string{`{"success":false,"error":"relay transport not connected"}`, `{"success":false,"error":"relay transport not connected"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.start(testConfig())
			sub := e.results("a1")
			var resp *responder
			if tt.early != nil {
				resp = newResponder(t, e.ns, func(n int, r edgeRequest) string {
					if n <= len(tt.early) {
						return tt.early[n-1]
					}
					return ok(n, r)
				})
			}
			e.publish(events.OpSend, "a1", events.ContentTypeMsgpack, events.Action{Op: events.OpSend, ChatID: "c", Content: "hi"})
			natstest.WaitFor(t, 10*time.Second, func() error {
				if got := e.metric("relay_egress_retries_total"); got < 2 {
					return fmt.Errorf("retries = %v, want >= 2", got)
				}
				return nil
			})
			if m, err := sub.NextMsg(10 * time.Millisecond); err == nil {
				t.Fatalf("result published while not delivered: %s", m.Data)
			}
			if resp == nil {
				resp = newResponder(t, e.ns, ok)
			}
			res := nextResult(t, sub)
			if !res.Success {
				t.Errorf("result = %+v, want success", res)
			}
			e.settled()
			want := len(tt.early) + 1
			if got := resp.count(); got != want {
				t.Errorf("edge requests = %d, want %d", got, want)
			}
			if m, err := sub.NextMsg(50 * time.Millisecond); err == nil {
				t.Errorf("second result: %s", m.Data)
			}
		})
	}
}

func TestUndeliveredActionExpires(t *testing.T) {
	e := newEnv(t)
	e.start(testConfig())
	sub := e.results("a1")
	deadline := time.Now().Add(300 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	e.publish(events.OpSend, "a1", events.ContentTypeMsgpack, events.Action{Op: events.OpSend, ChatID: "c", Content: "hi"}, events.DeadlineHeader, deadline)
	res := nextResult(t, sub)
	want := events.SendResult{Error: events.ErrTextNotConnected, Code: events.ReasonExpired}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	e.settled()
	dls := e.deadLetters()
	if len(dls) != 1 {
		t.Fatalf("dead letters = %d, want 1", len(dls))
	}
	if got := dls[0].Header.Get(events.ErrorCodeHeader); got != events.ReasonExpired {
		t.Errorf("dead letter %s = %q, want %q", events.ErrorCodeHeader, got, events.ReasonExpired)
	}
}

// TestDeadlineIsCapped: a Relay-Deadline beyond EGRESS_MAX_DEADLINE is cut
// to it, so an undeliverable action expires then, not a day later.
func TestDeadlineIsCapped(t *testing.T) {
	e := newEnv(t)
	cfg := testConfig()
	cfg.MaxDeadline = time.Second
	e.start(cfg)
	sub := e.results("far")
	deadline := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339Nano)
	e.publish(events.OpSend, "far", events.ContentTypeMsgpack, events.Action{Op: events.OpSend, ChatID: "c", Content: "hi"}, events.DeadlineHeader, deadline)
	res := nextResult(t, sub) // no ws-edge: retried until the capped deadline
	want := events.SendResult{Error: events.ErrTextNotConnected, Code: events.ReasonExpired}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
}

func TestFinalResults(t *testing.T) {
	tests := []struct {
		name     string
		answer   string
		want     events.SendResult
		deadCode string // "" = acked, not dead-lettered
	}{
		{
			name:     "DeclinedDeadLettered",
			answer:   `{"success":false,"code":"egress_declined","error":"egress declined: target not routed to an onboarded tenant"}`,
			want:     events.SendResult{Code: events.CodeEgressDeclined, Error: "egress declined: target not routed to an onboarded tenant"},
			deadCode: events.ReasonDeclined,
		},
		{
			name:     "DeclinedByTextOnly",
			answer:   `{"success":false,"error":"Egress Declined: nope"}`,
			want:     events.SendResult{Error: "Egress Declined: nope"},
			deadCode: events.ReasonDeclined,
		},
		{
			name:   "AmbiguousReportedNotRetried",
			answer: `{"success":false,"error":"relay outbound timed out","ambiguous":true}`,
			want:   events.ResultTimedOut,
		},
		{
			name:   "FailureReported",
			answer: `{"success":false,"error":"Missing Permissions","code":"50013"}`,
			want:   events.SendResult{Error: "Missing Permissions", Code: "50013"},
		},
		{
			name:   "NumericIDsAndThread",
			answer: `{"success":true,"message_id":1234567890123,"thread_id":"t1"}`,
			want:   events.SendResult{Success: true, MessageID: "1234567890123", ThreadID: "t1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, resp := newRunning(t, func(int, edgeRequest) string { return tt.answer })
			res := e.send("a1", events.Action{Op: events.OpSend, ChatID: "c", Content: "hi"})
			if diff := cmp.Diff(tt.want, res); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			e.wantEdgeRequests(resp, 1, "")
			dls := e.deadLetters()
			if tt.deadCode == "" {
				if len(dls) != 0 {
					t.Errorf("dead letters = %d, want 0", len(dls))
				}
				return
			}
			if len(dls) != 1 {
				t.Fatalf("dead letters = %d, want 1", len(dls))
			}
			if got := dls[0].Header.Get(events.ErrorCodeHeader); got != tt.deadCode {
				t.Errorf("dead letter %s = %q, want %q", events.ErrorCodeHeader, got, tt.deadCode)
			}
			if got := dls[0].Header.Get(events.SubjectHeader); got != "relay.outbound.send" {
				t.Errorf("dead letter %s = %q, want relay.outbound.send", events.SubjectHeader, got)
			}
		})
	}
}

func TestInvalidActionRejected(t *testing.T) {
	tests := []struct {
		name      string
		op        string
		ct        string
		data      []byte
		wantField string
		wantCode  string
	}{
		{"MissingChatIDJSON", "send", events.ContentTypeJSON, []byte(`{"op":"send","content":"hi"}`), "(chat_id)", events.ReasonMissingField},
		{"ChatIDNumberJSON", "send", events.ContentTypeJSON, []byte(`{"op":"send","chat_id":42,"content":"hi"}`), "(chat_id)", events.ReasonWrongType},
		{"MissingChatIDMsgpack", "send", "", mustMsgpack(map[string]any{"content": "hi"}), "(chat_id)", events.ReasonMissingField},
		{"MissingSessionKey", "follow_up", events.ContentTypeJSON, []byte(`{"content":"hi"}`), "(session_key)", events.ReasonMissingField},
		{"NotAnObject", "send", events.ContentTypeJSON, []byte(`[1,2]`), "", events.ReasonNotObject},
		{"OpMismatch", "send", events.ContentTypeJSON, []byte(`{"op":"edit","chat_id":"c","message_id":"m","content":"x"}`), "(op)", events.ReasonWrongType},
		{"UnknownOp", "shout", events.ContentTypeJSON, []byte(`{"chat_id":"c"}`), "(op)", events.ReasonUnknownOp},
		{"UnknownContentType", "send", "text/plain", []byte(`hi`), "(Content-Type)", events.ReasonBadEncoding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, resp := newRunning(t, ok)
			sub := e.results("bad1")
			e.publish(tt.op, "bad1", tt.ct, tt.data)
			res := nextResult(t, sub)
			if res.Success || res.Code != tt.wantCode || !strings.Contains(res.Error, tt.wantField) {
				t.Errorf("result = %+v, want failure code %q naming %q", res, tt.wantCode, tt.wantField)
			}
			e.wantEdgeRequests(resp, 0, "")
			dls := e.deadLetters()
			if len(dls) != 1 {
				t.Fatalf("dead letters = %d, want 1", len(dls))
			}
			if got := dls[0].Header.Get(events.ErrorCodeHeader); got != tt.wantCode {
				t.Errorf("dead letter code = %q, want %q", got, tt.wantCode)
			}
			if string(dls[0].Data) != string(tt.data) {
				t.Errorf("dead letter data = %q, want the original %q", dls[0].Data, tt.data)
			}
		})
	}
}

func mustMsgpack(v any) []byte {
	b, err := events.Marshal(v, events.ContentTypeMsgpack)
	if err != nil {
		panic(err)
	}
	return b
}

func TestEncodingsAndOps(t *testing.T) {
	tests := []struct {
		name string
		op   string
		ct   string
		data any
		want string // the exact edge request body
	}{
		{
			name: "SendMsgpack", op: "send", ct: events.ContentTypeMsgpack,
			data: events.Action{Op: events.OpSend, ChatID: "c", Content: "hi", ReplyTo: strptr("m0")},
			want: `{"op":"send","chat_id":"c","content":"hi","reply_to":"m0","metadata":{}}`,
		},
		{
			name: "SendNoContentTypeIsMsgpack", op: "send", ct: "",
			data: mustMsgpack(events.Action{Op: events.OpSend, ChatID: "c", Content: "hi"}),
			want: `{"op":"send","chat_id":"c","content":"hi","reply_to":null,"metadata":{}}`,
		},
		{
			name: "SendJSONOpFromSubject", op: "send", ct: events.ContentTypeJSON,
			data: []byte(`{"chat_id":"c","content":"hi","reply_to":"m0"}`),
			want: `{"op":"send","chat_id":"c","content":"hi","reply_to":"m0","metadata":{}}`,
		},
		{
			name: "FollowUp", op: "follow_up", ct: events.ContentTypeJSON,
			data: []byte(`{"session_key":"agent:main:discord:group:chan1:u1","kind":"discord.interaction_token","content":"done"}`),
			want: `{"op":"follow_up","session_key":"agent:main:discord:group:chan1:u1","kind":"discord.interaction_token","content":"done","metadata":{}}`,
		},
		{
			name: "FollowUpDefaultKind", op: "follow_up", ct: events.ContentTypeMsgpack,
			data: events.Action{Op: events.OpFollowUp, SessionKey: "s1", Content: "done"},
			want: `{"op":"follow_up","session_key":"s1","kind":"discord.interaction_token","content":"done","metadata":{}}`,
		},
		{
			name: "Interrupt", op: "interrupt", ct: events.ContentTypeMsgpack,
			data: events.Action{Op: events.OpInterrupt, SessionKey: "s1", Reason: strptr("user stop")},
			want: `{"op":"interrupt","session_key":"s1","reason":"user stop"}`,
		},
		{
			name: "Typing", op: "typing", ct: events.ContentTypeJSON,
			data: []byte(`{"chat_id":"c"}`),
			want: `{"op":"typing","chat_id":"c","metadata":{}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, resp := newRunning(t, ok)
			sub := e.results("a1")
			e.publish(tt.op, "a1", tt.ct, tt.data)
			if res := nextResult(t, sub); !res.Success {
				t.Errorf("result = %+v, want success", res)
			}
			reqs := resp.requests()
			if len(reqs) != 1 {
				t.Fatalf("edge requests = %d, want 1", len(reqs))
			}
			if reqs[0].Raw != tt.want {
				t.Errorf("edge request body\n got %s\nwant %s", reqs[0].Raw, tt.want)
			}
			if got := reqs[0].Header.Get(events.ActionIDHeader); got != "a1" {
				t.Errorf("%s = %q, want a1", events.ActionIDHeader, got)
			}
		})
	}
}

func TestRoutingHeadersAndGeneratedID(t *testing.T) {
	e, resp := newRunning(t, ok)
	sub, err := e.nc.SubscribeSync(events.ResultsSubjectPrefix + ">")
	if err != nil {
		t.Fatal(err)
	}
	e.publish(events.OpSend, "", events.ContentTypeMsgpack, events.Action{Op: events.OpSend, ChatID: "c", Content: "hi", Platform: "discord", BotID: "b1"})
	m, err := sub.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("no result: %v", err)
	}
	id := m.Header.Get(events.ActionIDHeader)
	if !strings.HasPrefix(id, "gen-") || m.Subject != events.ResultsSubject(id) {
		t.Errorf("generated action id %q on %s, want gen-... on relay.results.<id>", id, m.Subject)
	}
	h := resp.requests()[0].Header
	if h.Get(events.PlatformHeader) != "discord" || h.Get(events.BotIDHeader) != "b1" {
		t.Errorf("edge headers = %v, want platform discord, bot b1", h)
	}
}

func TestChatOrderKept(t *testing.T) {
	e, resp := newRunning(t, ok)
	const n = 100
	for i := range n {
		chat := fmt.Sprintf("chat%d", i%3)
		e.publish(events.OpSend, fmt.Sprintf("a%d", i), events.ContentTypeMsgpack, events.Action{Op: events.OpSend, ChatID: chat, Content: fmt.Sprint(i)})
	}
	natstest.WaitFor(t, 10*time.Second, func() error {
		if got := resp.count(); got != n {
			return fmt.Errorf("edge requests = %d, want %d", got, n)
		}
		return nil
	})
	last := map[string]int{}
	for _, r := range resp.requests() {
		chat := r.Action["chat_id"].(string)
		var i int
		fmt.Sscan(r.Action["content"].(string), &i)
		if prev, ok := last[chat]; ok && i < prev {
			t.Errorf("chat %s: %d sent after %d", chat, i, prev)
		}
		last[chat] = i
	}
}

// TestRedeliveredActionNotSentTwice reproduces a crash between publishing
// the result and acking the action, with real servers and services only:
// egress instance A runs as a NATS user that may not publish acks
// ($JS.ACK.> denied), so it sends the action and publishes the result but
// its ack never reaches the server — exactly what a crash after the result
// publish looks like from JetStream's side. A is stopped; after the ack
// wait the server redelivers the action (NumDelivered 2) to instance B. B
// must answer it from RELAY_RESULTS and not send it again.
func TestRedeliveredActionNotSentTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for an ack wait to expire")
	}
	for _, tt := range []struct {
		name, answer, outcome string
	}{
		{"Success", `{"success":true,"message_id":"m1"}`, "sent"},
		// An ambiguous stored result is final too: answered from the
		// store, never written again.
		{"Ambiguous", `{"success":false,"error":"relay outbound timed out","ambiguous":true}`, "ambiguous"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newLimitedEnv(t, "$JS.ACK.>")
			resp := newResponder(t, e.ns, func(int, edgeRequest) string { return tt.answer }, asAdmin)

			cfg := testConfig()
			cfg.AckWait = time.Second
			e.startLimited(cfg)
			sub := e.results("once")
			e.publish(events.OpSend, "once", events.ContentTypeMsgpack, events.Action{Op: events.OpSend, ChatID: "c", Content: "hi"})
			first := nextResult(t, sub)
			e.stop() // A "crashed" before its ack arrived

			e.start(cfg, asAdmin)
			second := nextResult(t, sub)
			if diff := cmp.Diff(first, second); diff != "" {
				t.Errorf("replayed result differs (-first +second):\n%s", diff)
			}
			e.wantEdgeRequests(resp, 1, "")
			if got := e.metric("relay_egress_actions_total", "op=send", "outcome=replayed"); got < 1 {
				t.Errorf("replayed count = %v, want >= 1", got)
			}
			if got := e.metric("relay_egress_actions_total", "op=send", "outcome="+tt.outcome); got != 0 {
				t.Errorf("instance B %s count = %v, want 0", tt.outcome, got)
			}
		})
	}
}

func TestReadyAndStatus(t *testing.T) {
	e := newEnv(t)
	e.putDescriptor("discord", map[string]any{})
	e.putDescriptor("telegram", map[string]any{})
	e.putScope("discord", "c1", events.Scope{ScopeID: "g", Platform: "discord"})
	e.putScope("telegram", "c1", events.Scope{UserID: "u", Platform: "telegram"})
	e.putScope("telegram", "c2", events.Scope{UserID: "u", Platform: "telegram"})
	e.start(testConfig())
	if err := e.svc.Ready(t.Context()); err != nil {
		t.Fatalf("Ready = %v, want nil", err)
	}
	if err := e.svc.Live(t.Context()); err != nil {
		t.Fatalf("Live = %v, want nil", err)
	}
	st := e.status()
	want := egress.Status{
		ScopeEntries: 3, ScopeChats: 2, ScopeSynced: true, ScopeWatches: 1,
		Descriptors: 2, DescriptorSynced: true, Platforms: []string{"discord", "telegram"},
		PrimaryPlatform: "discord", ConsumerRunning: true, Workers: 8,
	}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	if got := e.metric("relay_egress_cache_entries", "cache=scope"); got != 3 {
		t.Errorf("scope cache entries metric = %v, want 3", got)
	}
	var info struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	m, err := e.nc.Request("$SRV.INFO.relay-egress", nil, 2*time.Second)
	if err != nil {
		t.Fatalf("micro info: %v", err)
	}
	if err := json.Unmarshal(m.Data, &info); err != nil || info.Name != "relay-egress" || info.Version != "0.1.0" {
		t.Errorf("micro info = %s (%v), want relay-egress 0.1.0", m.Data, err)
	}
}

// TestSlowEdgeKeepsTheAction answers after more than the ack wait: egress
// reports progress, so the server does not redeliver the action to another
// worker meanwhile, and the action is sent once.
func TestSlowEdgeKeepsTheAction(t *testing.T) {
	if testing.Short() {
		t.Skip("waits longer than an ack wait")
	}
	e := newEnv(t)
	cfg := testConfig()
	cfg.AckWait = time.Second
	cfg.EdgeTimeout = 5 * time.Second
	e.start(cfg)
	resp := newResponder(t, e.ns, func(n int, r edgeRequest) string {
		time.Sleep(2500 * time.Millisecond) // a slow connector, not a synchronisation
		return ok(n, r)
	})
	sub := e.results("slow")
	e.publish(events.OpSend, "slow", events.ContentTypeMsgpack, events.Action{Op: events.OpSend, ChatID: "c", Content: "hi"})
	if res := nextResult(t, sub); !res.Success {
		t.Errorf("result = %+v, want success", res)
	}
	e.wantEdgeRequests(resp, 1, "")
	// A redelivery during the wait would be answered from the stored
	// result (not resent), but it must not happen at all.
	if got := e.metric("relay_egress_actions_total", "outcome=replayed"); got != 0 {
		t.Errorf("replayed = %v, want 0 (the action was redelivered while in progress)", got)
	}
	if m, err := sub.NextMsg(100 * time.Millisecond); err == nil {
		t.Errorf("second result: %s", m.Data)
	}
}

// TestOverlongSendFailsAtOnce: a send longer than EGRESS_MAX_PARTS
// messages of the platform's length fails with code oversized and nothing
// is sent (an 800 KB send once became 401 frames); a send at the bound
// still goes out in parts.
func TestOverlongSendFailsAtOnce(t *testing.T) {
	e := newEnv(t)
	e.putDescriptor("discord", map[string]any{"max_message_length": 2000, "markdown_dialect": "discord"})
	e.putScope("discord", "chan1", events.Scope{ScopeID: "g1", Platform: "discord", ChatType: events.ChatGroup})
	cfg := testConfig()
	cfg.MaxParts = 3
	e.start(cfg)
	e.waitStatus("descriptor", func(s egress.Status) bool { return s.Descriptors == 1 })
	resp := newResponder(t, e.ns, ok)

	res := e.send("huge", events.Action{Op: events.OpSend, ChatID: "chan1", Content: strings.Repeat("word ", 160_000)})
	if res.Success || res.Code != events.ReasonOversized || !strings.Contains(res.Error, "EGRESS_MAX_PARTS=3") {
		t.Errorf("800 KB send: result %+v, want a failure with code %q naming EGRESS_MAX_PARTS", res, events.ReasonOversized)
	}
	if n := len(resp.requests()); n != 0 {
		t.Errorf("%d edge requests for the refused send, want 0", n)
	}
	res = e.send("fits", events.Action{Op: events.OpSend, ChatID: "chan1", Content: strings.Repeat("word ", 1000)})
	if !res.Success || len(resp.requests()) != 3 {
		t.Errorf("5000-char send: result %+v after %d requests, want success in 3 parts", res, len(resp.requests()))
	}
}

// TestOverlongActionIDIsRejected: an action id over 256 bytes is refused
// (code oversized) with a result the agent still receives on its results
// subject, whose headers stay bounded; the chat's next action goes out.
func TestOverlongActionIDIsRejected(t *testing.T) {
	e := newEnv(t)
	e.putDescriptor("discord", map[string]any{"max_message_length": 2000})
	e.start(testConfig())
	e.waitStatus("descriptor", func(s egress.Status) bool { return s.Descriptors == 1 })
	resp := newResponder(t, e.ns, ok)
	long := strings.Repeat("i", 60<<10) // the server refuses headers over 64 KB itself
	res := e.send(long, events.Action{Op: events.OpSend, ChatID: "chan1", Content: "hi"})
	if res.Success || res.Code != events.ReasonOversized {
		t.Errorf("result %+v, want a failure with code %q", res, events.ReasonOversized)
	}
	if res := e.send("next", events.Action{Op: events.OpSend, ChatID: "chan1", Content: "after"}); !res.Success {
		t.Errorf("next action: %+v, want sent", res)
	}
	if n := len(resp.requests()); n != 1 {
		t.Errorf("%d edge requests, want only the next action's", n)
	}
}
