package egress_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/services/egress/egress"
)

// TestScopeCacheBounded: with EGRESS_SCOPE_CACHE=2 and three scope
// records, egress holds two, counts the eviction, and a reply to the
// forgotten chat (of the non-primary platform, the action naming none)
// still gets its scope and identity from the bucket.
func TestScopeCacheBounded(t *testing.T) {
	e := newEnv(t)
	e.putScope("telegram", "t1", events.Scope{UserID: "u1", Platform: "telegram", ChatType: events.ChatDM, BotID: "tg-bot"})
	e.putScope("discord", "d2", events.Scope{ScopeID: "g2", Platform: "discord", ChatType: events.ChatGroup})
	e.putScope("discord", "d3", events.Scope{ScopeID: "g3", Platform: "discord", ChatType: events.ChatGroup})
	cfg := testConfig()
	cfg.ScopeCacheSize = 2
	cfg.Identities = events.Identities{{Platform: "discord", BotID: "dc-bot"}, {Platform: "telegram", BotID: "tg-config"}}
	cfg.PrimaryPlatform = "discord"
	e.start(cfg)
	e.waitStatus("scopes", func(s egress.Status) bool { return s.ScopeEntries == 2 })
	if got := e.metric("relay_egress_scope_cache_evictions_total"); got != 1 {
		t.Errorf("evictions = %v, want 1", got)
	}
	resp := newResponder(t, e.ns, ok)

	if r := e.send("a1", events.Action{Op: events.OpSend, ChatID: "t1", Content: "hi"}); !r.Success {
		t.Fatalf("result = %+v", r)
	}
	req := resp.requests()[0]
	if diff := cmp.Diff(map[string]any{"user_id": "u1"}, req.Action["metadata"]); diff != "" {
		t.Errorf("metadata of the forgotten chat (-want +got):\n%s", diff)
	}
	if p, b := req.Header.Get(events.PlatformHeader), req.Header.Get(events.BotIDHeader); p != "telegram" || b != "tg-bot" {
		t.Errorf("identity = %q/%q, want telegram/tg-bot", p, b)
	}
	if got := e.metric("relay_egress_scope_kv_gets_total", "result=found"); got != 1 {
		t.Errorf("found KV gets = %v, want 1", got)
	}
	// Read back, t1 is held again and another key was forgotten.
	if got := e.status().ScopeEntries; got != 2 {
		t.Errorf("scope entries = %d, want 2", got)
	}
	if got := e.metric("relay_egress_scope_cache_evictions_total"); got != 2 {
		t.Errorf("evictions = %v, want 2", got)
	}
}
