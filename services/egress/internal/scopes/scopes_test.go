package scopes_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/services/egress/internal/kvwatch"
	"github.com/relaybus/relaybus/services/egress/internal/scopes"
)

func TestParseKey(t *testing.T) {
	tests := []struct {
		platform, chat string
	}{
		{"discord", "123"},
		{"telegram", "-100200"},
		{"slack", "C1.thread/2"},
		{"whatsapp", "+49 170 = 5%"},
		{"discord", ""},
	}
	for _, tt := range tests {
		t.Run(tt.platform+"/"+tt.chat, func(t *testing.T) {
			key := events.ScopeKey(tt.platform, tt.chat)
			p, c, ok := scopes.ParseKey(key)
			if !ok || p != tt.platform || c != tt.chat {
				t.Errorf("ParseKey(%q) = %q, %q, %v, want %q, %q, true", key, p, c, ok, tt.platform, tt.chat)
			}
		})
	}
	for _, bad := range []string{"nodot", "a%zz.b", "disc%ord.1", "a.b=ZZ"} {
		if _, _, ok := scopes.ParseKey(bad); ok {
			t.Errorf("ParseKey(%q) ok, want not ok", bad)
		}
	}
}

func entry(tb testing.TB, platform, chat string, rev uint64, sc events.Scope) kvwatch.Entry {
	tb.Helper()
	v, err := events.Marshal(sc, events.ContentTypeMsgpack)
	if err != nil {
		tb.Fatal(err)
	}
	return kvwatch.Entry{Key: events.ScopeKey(platform, chat), Value: v, Revision: rev}
}

func TestLookup(t *testing.T) {
	dg := events.Scope{ScopeID: "g", Platform: "discord", ChatType: "group"}
	tg := events.Scope{UserID: "u", Platform: "telegram", ChatType: "dm"}
	x := scopes.New()
	x.Reset([]kvwatch.Entry{
		entry(t, "discord", "1", 1, dg),
		entry(t, "telegram", "1", 2, tg),
		entry(t, "telegram", "2", 3, tg),
		{Key: "garbage", Value: []byte{0xc1}, Revision: 4},
	})
	tests := []struct {
		name, chat, platform, primary string
		want                          events.Scope
		outcome                       scopes.Outcome
	}{
		{"OnlyRecord", "2", "", "", tg, scopes.Hit},
		{"NamedPlatform", "1", "telegram", "", tg, scopes.Hit},
		{"NamedPlatformMissing", "2", "discord", "", events.Scope{}, scopes.Miss},
		{"SharedPrefersPrimary", "1", "", "discord", dg, scopes.Hit},
		{"SharedWithoutPrimary", "1", "", "", events.Scope{}, scopes.Ambiguous},
		{"SharedPrimaryNotAmongThem", "1", "", "slack", events.Scope{}, scopes.Ambiguous},
		{"Unknown", "3", "", "discord", events.Scope{}, scopes.Miss},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, o := x.Lookup(tt.chat, tt.platform, tt.primary)
			if o != tt.outcome {
				t.Fatalf("Lookup outcome = %v, want %v", o, tt.outcome)
			}
			if diff := cmp.Diff(tt.want, r.Scope); diff != "" {
				t.Errorf("scope (-want +got):\n%s", diff)
			}
		})
	}
	if x.Len() != 3 || x.Chats() != 2 || x.Undecodable() != 1 {
		t.Errorf("Len, Chats, Undecodable = %d, %d, %d, want 3, 2, 1", x.Len(), x.Chats(), x.Undecodable())
	}
}

func TestApplyAndMerge(t *testing.T) {
	x := scopes.New()
	x.Reset(nil)
	x.Apply(entry(t, "discord", "1", 5, events.Scope{ScopeID: "a", Platform: "discord"}))
	x.Apply(entry(t, "discord", "1", 6, events.Scope{ScopeID: "b", Platform: "discord"}))
	if r, _ := x.Lookup("1", "", ""); r.Scope.ScopeID != "b" || x.Len() != 1 {
		t.Fatalf("after update: scope %q, len %d; want b, 1", r.Scope.ScopeID, x.Len())
	}
	// An older get result does not overwrite the watched value.
	x.Merge(scopes.Record{Platform: "discord", ChatID: "1", Scope: events.Scope{ScopeID: "old"}, Revision: 4})
	if r, _ := x.Lookup("1", "", ""); r.Scope.ScopeID != "b" {
		t.Errorf("stale merge won: %q", r.Scope.ScopeID)
	}
	x.Merge(scopes.Record{Platform: "slack", ChatID: "9", Scope: events.Scope{UserID: "u"}, Revision: 7})
	if _, o := x.Lookup("9", "slack", ""); o != scopes.Hit || x.Len() != 2 {
		t.Errorf("merged record not found (len %d)", x.Len())
	}
	x.Apply(kvwatch.Entry{Key: events.ScopeKey("discord", "1"), Revision: 8, Deleted: true})
	if _, o := x.Lookup("1", "", ""); o != scopes.Miss || x.Len() != 1 || x.Chats() != 1 {
		t.Errorf("after delete: outcome %v, len %d, chats %d; want miss, 1, 1", o, x.Len(), x.Chats())
	}
	x.Apply(kvwatch.Entry{Key: events.ScopeKey("discord", "nope"), Revision: 9, Deleted: true})
	if x.Len() != 1 {
		t.Errorf("deleting an unknown key changed len to %d", x.Len())
	}
}

func TestDecodeValueAcceptsJSON(t *testing.T) {
	got, err := scopes.DecodeValue([]byte(`{"scope_id":"g","platform":"discord","user_id":"u"}`))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(events.Scope{ScopeID: "g", Platform: "discord", UserID: "u"}, got); diff != "" {
		t.Errorf("DecodeValue (-want +got):\n%s", diff)
	}
}

// FuzzParseKey checks that every ScopeKey parses back to its platform and
// chat id, and that no key string panics.
func FuzzParseKey(f *testing.F) {
	for _, s := range [][2]string{{"discord", "123"}, {"telegram", "-100200"}, {"slack", "C1.thread/2"}, {"whatsapp", "+49 170 = 5%"}, {"discord", ""}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, platform, chat string) {
		p, c, ok := scopes.ParseKey(events.ScopeKey(platform, chat))
		if !ok || p != platform || c != chat {
			t.Fatalf("ParseKey(ScopeKey(%q, %q)) = %q, %q, %v", platform, chat, p, c, ok)
		}
		scopes.ParseKey(platform + "." + chat)
		_, _ = scopes.DecodeValue([]byte(chat))
	})
}
