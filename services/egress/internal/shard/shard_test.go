package shard_test

import (
	"bytes"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/services/egress/internal/shard"
)

func mp(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

type keyCase struct {
	name string
	data []byte
	ct   string
	want string
}

func keyCases(tb testing.TB) []keyCase {
	long := make([]byte, 70000)
	for i := range long {
		long[i] = 'x'
	}
	return []keyCase{
		{"SendMsgpack", mp(tb, events.Action{Op: "send", ChatID: "chan1", Content: "hi", Metadata: map[string]any{"a": []any{1, 2.5, nil, true, map[string]any{"n": -3}}}}), "", "chan1"},
		{"ChatIDAfterNestedValues", mp(tb, map[string]any{"metadata": map[string]any{"chat_id": "inner", "x": []byte{1, 2}}, "chat_id": "outer"}), events.ContentTypeMsgpack, "outer"},
		{"FollowUpSessionKey", mp(tb, events.Action{Op: "follow_up", SessionKey: "agent:main:discord:dm:1", Content: "x"}), "", "agent:main:discord:dm:1"},
		{"ChatIDWinsOverSessionKey", mp(tb, map[string]any{"session_key": "s", "chat_id": "c"}), "", "c"},
		{"EmptyChatIDFallsBack", mp(tb, map[string]any{"chat_id": "", "session_key": "s"}), "", "s"},
		{"NonStringChatID", mp(tb, map[string]any{"chat_id": 42}), "", ""},
		{"LongContentStr32", mp(tb, map[string]any{"content": string(long), "chat_id": "c"}), "", "c"},
		{"NotAMap", mp(tb, []any{"chat_id", "c"}), "", ""},
		{"Truncated", mp(tb, map[string]any{"content": "hello", "chat_id": "c"})[:5], "", ""},
		{"Empty", nil, "", ""},
		{"JSON", []byte(`{"op":"send","chat_id":"c9","content":"x"}`), events.ContentTypeJSON, "c9"},
		{"JSONSessionKey", []byte(`{"session_key":"s9"}`), events.ContentTypeJSON, "s9"},
		{"JSONNumberChatID", []byte(`{"chat_id":9,"session_key":"s"}`), events.ContentTypeJSON, "s"},
		{"JSONBroken", []byte(`{"chat_id":`), events.ContentTypeJSON, ""},
		{"UnknownContentType", []byte(`chat_id`), "text/plain", ""},
	}
}

func TestKey(t *testing.T) {
	for _, tt := range keyCases(t) {
		t.Run(tt.name, func(t *testing.T) {
			if got := shard.Key(tt.data, tt.ct); got != tt.want {
				t.Errorf("Key(%q) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

// FuzzKey checks that the scan never panics, is deterministic, and only
// returns bytes the input holds. (It is not compared with a full msgpack
// decode here: the decoder allocates what hostile length prefixes declare.)
func FuzzKey(f *testing.F) {
	for _, tt := range keyCases(f) {
		if tt.ct != events.ContentTypeJSON {
			f.Add(tt.data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got := shard.Key(data, events.ContentTypeMsgpack)
		if again := shard.Key(data, events.ContentTypeMsgpack); again != got {
			t.Fatalf("Key not deterministic: %q then %q", got, again)
		}
		if got != "" && !bytes.Contains(data, []byte(got)) {
			t.Fatalf("Key = %q, not in the input", got)
		}
	})
}

// FuzzKeyAction checks the scan against actions the Go client encodes.
func FuzzKeyAction(f *testing.F) {
	f.Add("chan1", "", "hi", "g1")
	f.Add("", "agent:main:discord:dm:1", "done", "")
	f.Add("", "", "", "")
	f.Fuzz(func(t *testing.T, chatID, sessionKey, content, scope string) {
		a := events.Action{Op: "send", ChatID: chatID, SessionKey: sessionKey, Content: content, Metadata: map[string]any{"scope_id": scope, "chat_id": "decoy"}}
		want := chatID
		if want == "" {
			want = sessionKey
		}
		if got := shard.Key(mp(t, a), ""); got != want {
			t.Fatalf("Key = %q, want %q", got, want)
		}
	})
}

func BenchmarkKey(b *testing.B) {
	data := mp(b, events.Action{Op: "send", ChatID: "123456789012345678", Content: "a typical short agent reply of a few words", Metadata: map[string]any{"scope_id": "1"}})
	b.ReportAllocs()
	for b.Loop() {
		shard.Key(data, "")
	}
}
