package scopes_test

import (
	"strconv"
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
	x := scopes.New(100)
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
	x := scopes.New(100)
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

// TestBounded: the index holds at most its maximum of keys, forgets the
// least recently used first (a lookup counts as a use), keeps the newest
// revisions of an oversized snapshot, and counts what it forgot.
func TestBounded(t *testing.T) {
	sc := func(id string) events.Scope { return events.Scope{ScopeID: id, Platform: "discord"} }
	x := scopes.New(2)
	x.Reset([]kvwatch.Entry{
		entry(t, "discord", "new", 9, sc("new")),
		entry(t, "discord", "old", 1, sc("old")),
		entry(t, "discord", "mid", 5, sc("mid")),
	})
	if x.Len() != 2 || x.Evictions() != 1 {
		t.Fatalf("after an oversized snapshot: len %d, evictions %d; want 2, 1", x.Len(), x.Evictions())
	}
	if _, o := x.Lookup("old", "", ""); o != scopes.Miss {
		t.Errorf("the oldest revision was kept")
	}
	// "mid" is used, so "new" is the least recently used when "c" arrives.
	if _, o := x.Lookup("mid", "discord", ""); o != scopes.Hit {
		t.Fatal("mid not held")
	}
	x.Apply(entry(t, "discord", "c", 10, sc("c")))
	if _, o := x.Lookup("new", "", ""); o != scopes.Miss || x.Evictions() != 2 || x.Len() != 2 {
		t.Errorf("after a write to a full index: new %v, evictions %d, len %d; want miss, 2, 2", o, x.Evictions(), x.Len())
	}
	// A chat on two platforms that lost one of them answers with the other.
	x.Merge(scopes.Record{Platform: "telegram", ChatID: "c", Scope: events.Scope{Platform: "telegram"}, Revision: 11})
	if x.Len() != 2 || x.Chats() != 1 {
		t.Fatalf("len %d, chats %d; want 2, 1", x.Len(), x.Chats())
	}
	if _, o := x.Lookup("c", "", ""); o != scopes.Ambiguous {
		t.Errorf("chat on two platforms: %v, want ambiguous", o)
	}
	x.Merge(scopes.Record{Platform: "slack", ChatID: "z", Revision: 12}) // evicts discord/c
	if r, o := x.Lookup("c", "", ""); o != scopes.Hit || r.Platform != "telegram" {
		t.Errorf("after losing discord/c: %v %q, want the telegram record", o, r.Platform)
	}
	if x.Evictions() != 4 {
		t.Errorf("evictions = %d, want 4", x.Evictions())
	}
}

// TestBoundedConcurrent runs lookups against updates (for -race).
func TestBoundedConcurrent(t *testing.T) {
	x := scopes.New(8)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 2000 {
			x.Apply(entry(t, "discord", strconv.Itoa(i%32), uint64(i+1), events.Scope{Platform: "discord"}))
		}
	}()
	for i := range 2000 {
		x.Lookup(strconv.Itoa(i%32), "", "discord")
	}
	<-done
	if x.Len() != 8 || x.Chats() != 8 {
		t.Errorf("len %d, chats %d; want 8, 8", x.Len(), x.Chats())
	}
}
