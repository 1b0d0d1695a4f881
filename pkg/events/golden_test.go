package events_test

import (
	"encoding/hex"
	"encoding/json"
	"flag"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/relaybus/relaybus/pkg/events"
	goldenfiles "github.com/relaybus/relaybus/pkg/internal/golden"
	"github.com/vmihailenco/msgpack/v5"
)

// golden are the golden files in testdata.
var golden = goldenfiles.Files{
	Update:   flag.Bool("update", false, "rewrite the golden files in testdata"),
	Hint:     "run go test ./events -update to create it",
	Mismatch: "changed: the wire encoding must not change within v1",
	Fatal:    true,
}

// goldenSource is the source of the golden events: every key set.
var goldenSource = events.SessionSource{
	Platform: "discord", ChatID: "645027906669510667", ChatType: events.ChatGroup, ChatName: "mtg-chat",
	UserID: "53908232506183680", UserName: "Mason", ThreadID: "", ChatTopic: "Magic talk",
	UserIDAlt: "alt-53908232506183680", ChatIDAlt: "alt-645027906669510667",
	ScopeID: "290926798626357999", GuildID: "290926798626357999", ParentChatID: "645027906669510000",
	MessageID: "786008713424617492", Profile: "support", IsBot: true,
}

// goldenEvent is a full MessageEvent: a slash command with an option, every
// top-level key set.
func goldenEvent() events.MessageEvent {
	return events.MessageEvent{
		Text: "/cardsearch The Gitrog Monster", MessageType: events.MessageCommand,
		MessageID: "786008729715212338", ReplyToMessageID: "786008713424617492",
		MediaURLs: []string{"https://cdn.discordapp.com/attachments/1/2/gitrog.png"},
		Media: []events.Media{{
			URL: "https://cdn.discordapp.com/attachments/1/2/gitrog.png", Kind: "photo", MIME: "image/png",
			Size: 48213, Filename: "gitrog.png", Caption: "The Gitrog Monster",
		}},
		Source:     goldenSource,
		SessionKey: events.SessionKey(goldenSource, events.SessionKeyOptions{}),
		Timestamp:  "2020-12-10T18:35:08Z",
		Interaction: &events.Interaction{
			ID: "786008729715212338", ApplicationID: "290926444748734465", Kind: "application_command",
			Context: "guild", Locale: "en-US", GuildLocale: "en-US",
			AuthorizingIntegrationOwners: map[string]string{"0": "290926798626357999", "1": "53908232506183680"},
			AppPermissions:               "442368",
			Command: &events.Command{
				ID: "771825006014889984", Name: "cardsearch", Type: "chat_input", Path: []string{"cardsearch"},
				Options: []events.CommandOption{
					{Name: "cardname", Type: "string", Value: "The Gitrog Monster"},
					{Name: "owner", Type: "user", Value: "53908232506183680", Display: "@Mason"},
				},
			},
		},
		Forward: &events.ForwardInfo{Platform: "discord", BotID: "290926444748734465", Method: "POST", Path: "/interactions/discord/290926444748734465"},
	}
}

// goldenCases are the canonical payloads pinned in testdata. Together they
// set every key of every payload type (TestGoldenCoversEveryKey).
func goldenCases() []struct {
	name string
	v    any
} {
	src := goldenSource
	src.ChatType, src.ThreadID, src.ParentChatID = events.ChatThread, "1457536551830421524", "1457536551830420000"
	return []struct {
		name string
		v    any
	}{
		{"message_event", goldenEvent()},
		{"message_event_context_menu", events.MessageEvent{
			Text: "/Translate", MessageType: events.MessageCommand, Source: goldenSource,
			SessionKey: events.SessionKey(goldenSource, events.SessionKeyOptions{}),
			Interaction: &events.Interaction{ID: "1", Kind: "application_command", Context: "guild",
				Command: &events.Command{Name: "Translate", Type: "message", Path: []string{"Translate"},
					Target: &events.CommandTarget{Kind: "message", ID: "99", Display: "Mason: bonjour", Content: "bonjour", AuthorID: "53908232506183680"}}},
		}},
		{"message_event_component", events.MessageEvent{
			Text: "/yes", MessageType: events.MessageCommand, MessageID: "1457536583141163186", Source: src,
			SessionKey:     events.SessionKey(src, events.SessionKeyOptions{}),
			PromptResponse: &events.PromptResponse{PromptID: "p_42", OptionID: "yes", PromptMessageID: "1457536567810854934"},
			Interaction: &events.Interaction{ID: "1457536583141163186", Kind: "message_component", Context: "guild",
				Component: &events.Component{CustomID: "hp1:p_42:yes", Type: "string_select", Label: "Deploy?",
					Values: []string{"yes"}, ValueLabels: []string{"Yes, deploy"}}},
		}},
		{"message_event_modal", events.MessageEvent{
			Text:        "bug_string_select=butterfly\nbug_explanation=They start as caterpillars.\nsubscribe=true",
			MessageType: events.MessageText, Source: goldenSource,
			SessionKey: events.SessionKey(goldenSource, events.SessionKeyOptions{}),
			Interaction: &events.Interaction{ID: "1461295693544546001", Kind: "modal_submit", Context: "guild",
				Modal: &events.Modal{CustomID: "bug_modal", Fields: []events.ModalField{
					{CustomID: "bug_string_select", Type: "string_select", Value: "butterfly", Values: []string{"butterfly"}},
					{CustomID: "bug_explanation", Type: "text_input", Value: "They start as caterpillars."},
					{CustomID: "subscribe", Type: "checkbox", Value: "true"},
				}}},
		}},
		{"interrupt", events.Interrupt{SessionKey: "agent:main:discord:group:645027906669510667:53908232506183680", ChatID: "645027906669510667", Platform: "discord"}},
		{"action_send", events.Action{Op: events.OpSend, ChatID: "645027906669510667", Content: "Found it: **The Gitrog Monster**", ReplyTo: strPtr("786008713424617492"),
			Metadata: map[string]any{"scope_id": "290926798626357999", "guild_id": "290926798626357999", "user_id": "53908232506183680", "profile": "support"},
			Platform: "discord", BotID: "290926444748734465"}},
		{"action_follow_up", events.Action{Op: events.OpFollowUp, SessionKey: "agent:main:discord:group:645027906669510667:53908232506183680", Kind: events.FollowUpKindDiscord, Content: "Done."}},
		{"action_react", events.Action{Op: events.OpReact, ChatID: "645027906669510667", MessageID: "786008713424617492", Emoji: "👍", Remove: true}},
		{"action_interrupt", events.Action{Op: events.OpInterrupt, SessionKey: "agent:main:telegram:dm:5", Reason: strPtr("superseded")}},
		{"send_result", events.SendResult{Success: true, MessageID: "786008800000000001", ContinuationMessageIDs: []string{"786008800000000002", "786008800000000003"}, ThreadID: "786008800000000000"}},
		{"send_result_declined", events.SendResult{Success: false, Error: "Egress declined: target not routed to an onboarded tenant", Code: events.CodeEgressDeclined}},
		{"send_result_timed_out", events.ResultTimedOut},
		{"send_result_chat_info", events.SendResult{Success: true, ChatInfo: &events.ChatInfo{Name: "mtg-chat", Type: "group"}}},
		{"scope", events.Scope{ScopeID: "290926798626357999", UserID: "53908232506183680", Platform: "discord", ChatType: "group", Profile: "support", UpdatedAt: "2025-06-01T12:00:00Z"}},
		{"scope_identity", events.Scope{ScopeID: "290926798626357999", UserID: "53908232506183680", Platform: "discord", BotID: "290926444748734465", ChatType: "group", Profile: "support", UpdatedAt: "2025-06-01T12:00:00Z"}},
	}
}

// hexLines formats b as lower-case hex, 32 bytes a line.
func hexLines(b []byte) []byte {
	var out []byte
	for len(b) > 0 {
		n := min(32, len(b))
		out = hex.AppendEncode(out, b[:n])
		out = append(out, '\n')
		b = b[n:]
	}
	return out
}

func unhexLines(tb testing.TB, text []byte) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(string(text)), ""))
	if err != nil {
		tb.Fatalf("bad hex golden file: %v", err)
	}
	return b
}

// keyPaths collects the key paths of a decoded JSON or MessagePack value:
// "source.chat_id", "media[].url", ...
func keyPaths(v any, prefix string, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out[p] = true
			keyPaths(e, p, out)
		}
	case []any:
		for _, e := range x {
			keyPaths(e, prefix+"[]", out)
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	s := make([]string, 0, len(m))
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			js, err := events.Marshal(tc.v, events.ContentTypeJSON)
			if err != nil {
				t.Fatalf("Marshal(JSON) error = %v", err)
			}
			mp, err := events.Marshal(tc.v, events.ContentTypeMsgpack)
			if err != nil {
				t.Fatalf("Marshal(msgpack) error = %v", err)
			}
			golden.Check(t, tc.name+".golden.json", append(js, '\n'))
			golden.Check(t, tc.name+".golden.msgpack.hex", hexLines(mp))

			// Decoding each golden file gives back the value.
			for _, f := range []struct{ file, ct string }{{".golden.json", events.ContentTypeJSON}, {".golden.msgpack.hex", events.ContentTypeMsgpack}} {
				data := readFixture(t, tc.name+f.file)
				if f.ct == events.ContentTypeMsgpack {
					data = unhexLines(t, data)
				}
				back := reflect.New(reflect.TypeOf(tc.v))
				if err := events.Unmarshal(data, f.ct, back.Interface()); err != nil {
					t.Fatalf("Unmarshal(%s) error = %v", f.file, err)
				}
				if diff := cmp.Diff(tc.v, back.Elem().Interface()); diff != "" {
					t.Fatalf("Unmarshal(%s) mismatch (-want +got):\n%s", f.file, diff)
				}
			}

			// MessagePack map keys are exactly the JSON keys, at every level.
			var jm, mm map[string]any
			if err := json.Unmarshal(js, &jm); err != nil {
				t.Fatal(err)
			}
			if err := msgpack.Unmarshal(mp, &mm); err != nil {
				t.Fatalf("msgpack into map[string]any: %v", err)
			}
			jk, mk := map[string]bool{}, map[string]bool{}
			keyPaths(jm, "", jk)
			keyPaths(mm, "", mk)
			if diff := cmp.Diff(sortedKeys(jk), sortedKeys(mk)); diff != "" {
				t.Fatalf("msgpack keys differ from JSON keys (-json +msgpack):\n%s", diff)
			}
		})
	}
}

// schemaPaths lists the key paths a struct type can put on the wire,
// following its json tags (map-valued fields hold data keys and stop there).
func schemaPaths(t reflect.Type, prefix string, out map[string]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		if t.Kind() == reflect.Slice {
			prefix += "[]"
		}
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		mtag, _, _ := strings.Cut(f.Tag.Get("msgpack"), ",")
		if mtag != name {
			panic("json and msgpack tags differ on " + t.Name() + "." + f.Name)
		}
		p := name
		if prefix != "" {
			p = strings.TrimPrefix(prefix+"."+name, ".")
		}
		out[p] = true
		schemaPaths(f.Type, p, out)
	}
}

func TestGoldenCoversEveryKey(t *testing.T) {
	byType := map[reflect.Type]map[string]bool{}
	for _, tc := range goldenCases() {
		js, err := events.Marshal(tc.v, events.ContentTypeJSON)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(js, &m); err != nil {
			t.Fatal(err)
		}
		typ := reflect.TypeOf(tc.v)
		if byType[typ] == nil {
			byType[typ] = map[string]bool{}
		}
		keyPaths(m, "", byType[typ])
	}
	for _, typ := range []reflect.Type{
		reflect.TypeFor[events.MessageEvent](), reflect.TypeFor[events.Interrupt](), reflect.TypeFor[events.Action](),
		reflect.TypeFor[events.SendResult](), reflect.TypeFor[events.Scope](),
	} {
		schema := map[string]bool{}
		schemaPaths(typ, "", schema)
		for _, p := range sortedKeys(schema) {
			if byType[typ][p] {
				continue
			}
			t.Errorf("%s: no golden file sets key %q", typ.Name(), p)
		}
	}
}
