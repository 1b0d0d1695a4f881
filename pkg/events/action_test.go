package events_test

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/vmihailenco/msgpack/v5"
)

func strPtr(s string) *string { return &s }

// actionTests is the DecodeAction table. Each case runs as JSON and, with
// the same keys and values, as MessagePack; FuzzDecodeAction seeds from it.
var actionTests = []struct {
	name       string
	in         string // a JSON object
	subjectOp  string
	want       events.Action
	wantReason string
	wantField  string
}{
	{name: "Send", in: `{"op":"send","chat_id":"c","content":"hi"}`, want: events.Action{Op: "send", ChatID: "c", Content: "hi"}},
	{name: "SendFull", in: `{"op":"send","chat_id":"c","content":"hi","reply_to":"m0","metadata":{"scope_id":"g","n":"1"},"platform":"discord","bot_id":"123"}`,
		want: events.Action{Op: "send", ChatID: "c", Content: "hi", ReplyTo: strPtr("m0"), Metadata: map[string]any{"scope_id": "g", "n": "1"}, Platform: "discord", BotID: "123"}},
	{name: "SendNullReplyToAndMetadata", in: `{"op":"send","chat_id":"c","content":"hi","reply_to":null,"metadata":null}`, want: events.Action{Op: "send", ChatID: "c", Content: "hi"}},
	{name: "FollowUpKindDefault", in: `{"op":"follow_up","session_key":"k","content":"hi"}`, want: events.Action{Op: "follow_up", SessionKey: "k", Kind: events.FollowUpKindDiscord, Content: "hi"}},
	{name: "FollowUpKindKept", in: `{"op":"follow_up","session_key":"k","kind":"slack.response_url","content":"hi"}`, want: events.Action{Op: "follow_up", SessionKey: "k", Kind: "slack.response_url", Content: "hi"}},
	{name: "Edit", in: `{"op":"edit","chat_id":"c","message_id":"m","content":"x"}`, want: events.Action{Op: "edit", ChatID: "c", MessageID: "m", Content: "x"}},
	{name: "Typing", in: `{"op":"typing","chat_id":"c"}`, want: events.Action{Op: "typing", ChatID: "c"}},
	{name: "GetChatInfo", in: `{"op":"get_chat_info","chat_id":"c"}`, want: events.Action{Op: "get_chat_info", ChatID: "c"}},
	{name: "Delete", in: `{"op":"delete","chat_id":"c","message_id":"m"}`, want: events.Action{Op: "delete", ChatID: "c", MessageID: "m"}},
	{name: "React", in: `{"op":"react","chat_id":"c","message_id":"m","emoji":"👍","remove":true}`, want: events.Action{Op: "react", ChatID: "c", MessageID: "m", Emoji: "👍", Remove: true}},
	{name: "Interrupt", in: `{"op":"interrupt","session_key":"k","reason":"stop"}`, want: events.Action{Op: "interrupt", SessionKey: "k", Reason: strPtr("stop")}},
	{name: "UnknownKeysIgnored", in: `{"op":"typing","chat_id":"c","future":[1,{"x":2}]}`, want: events.Action{Op: "typing", ChatID: "c"}},

	// Op from the subject.
	{name: "OpFromSubject", in: `{"chat_id":"c","content":"hi"}`, subjectOp: "send", want: events.Action{Op: "send", ChatID: "c", Content: "hi"}},
	{name: "OpMatchesSubject", in: `{"op":"typing","chat_id":"c"}`, subjectOp: "typing", want: events.Action{Op: "typing", ChatID: "c"}},
	{name: "FollowUpFromSubject", in: `{"session_key":"k","content":"hi"}`, subjectOp: "follow_up", want: events.Action{Op: "follow_up", SessionKey: "k", Kind: events.FollowUpKindDiscord, Content: "hi"}},
	{name: "ErrOpMismatch", in: `{"op":"edit","chat_id":"c","message_id":"m","content":"x"}`, subjectOp: "send", wantReason: events.ReasonWrongType, wantField: "op"},
	{name: "ErrNoOp", in: `{"chat_id":"c","content":"hi"}`, want: events.Action{ChatID: "c", Content: "hi"}, wantReason: events.ReasonMissingField, wantField: "op"},
	{name: "ErrUnknownOp", in: `{"op":"pin","chat_id":"c"}`, want: events.Action{Op: "pin", ChatID: "c"}, wantReason: events.ReasonUnknownOp, wantField: "op"},
	{name: "ErrUnknownSubjectOp", in: `{"chat_id":"c"}`, subjectOp: "pin", want: events.Action{Op: "pin", ChatID: "c"}, wantReason: events.ReasonUnknownOp, wantField: "op"},

	// Empty required values.
	{name: "ErrEmptyChatID", in: `{"op":"send","chat_id":"","content":"hi"}`, want: events.Action{Op: "send", Content: "hi"}, wantReason: events.ReasonMissingField, wantField: "chat_id"},
	{name: "ErrNullContent", in: `{"op":"send","chat_id":"c","content":null}`, want: events.Action{Op: "send", ChatID: "c"}, wantReason: events.ReasonMissingField, wantField: "content"},

	// Wrong types.
	{name: "ErrChatIDNumber", in: `{"op":"send","chat_id":5,"content":"hi"}`, wantReason: events.ReasonWrongType, wantField: "chat_id"},
	{name: "ErrOpNumber", in: `{"op":1,"chat_id":"c"}`, wantReason: events.ReasonWrongType, wantField: "op"},
	{name: "ErrContentArray", in: `{"op":"send","chat_id":"c","content":["a"]}`, wantReason: events.ReasonWrongType, wantField: "content"},
	{name: "ErrReplyToNumber", in: `{"op":"send","chat_id":"c","content":"hi","reply_to":7}`, wantReason: events.ReasonWrongType, wantField: "reply_to"},
	{name: "ErrMessageIDNumber", in: `{"op":"edit","chat_id":"c","message_id":7,"content":"x"}`, wantReason: events.ReasonWrongType, wantField: "message_id"},
	{name: "ErrSessionKeyObject", in: `{"op":"follow_up","session_key":{},"content":"x"}`, wantReason: events.ReasonWrongType, wantField: "session_key"},
	{name: "ErrKindBool", in: `{"op":"follow_up","session_key":"k","kind":true,"content":"x"}`, wantReason: events.ReasonWrongType, wantField: "kind"},
	{name: "ErrEmojiNumber", in: `{"op":"react","chat_id":"c","message_id":"m","emoji":1}`, wantReason: events.ReasonWrongType, wantField: "emoji"},
	{name: "ErrRemoveString", in: `{"op":"react","chat_id":"c","message_id":"m","emoji":"x","remove":"yes"}`, wantReason: events.ReasonWrongType, wantField: "remove"},
	{name: "ErrReasonNumber", in: `{"op":"interrupt","session_key":"k","reason":1}`, wantReason: events.ReasonWrongType, wantField: "reason"},
	{name: "ErrMetadataString", in: `{"op":"send","chat_id":"c","content":"hi","metadata":"x"}`, wantReason: events.ReasonWrongType, wantField: "metadata"},
	{name: "ErrMetadataArray", in: `{"op":"send","chat_id":"c","content":"hi","metadata":[]}`, wantReason: events.ReasonWrongType, wantField: "metadata"},
	{name: "ErrPlatformNumber", in: `{"op":"typing","chat_id":"c","platform":1}`, wantReason: events.ReasonWrongType, wantField: "platform"},
	{name: "ErrBotIDNumber", in: `{"op":"typing","chat_id":"c","bot_id":1}`, wantReason: events.ReasonWrongType, wantField: "bot_id"},
	{name: "ErrFirstWrongFieldReported", in: `{"op":"send","chat_id":1,"content":2}`, wantReason: events.ReasonWrongType, wantField: "chat_id"},
}

// requiredKeys is the contract's required keys per op (§2), spelled out
// independently of the package's table.
var requiredKeys = map[string][]string{
	"send":          {"chat_id", "content"},
	"follow_up":     {"session_key", "content"},
	"edit":          {"chat_id", "message_id", "content"},
	"typing":        {"chat_id"},
	"get_chat_info": {"chat_id"},
	"delete":        {"chat_id", "message_id"},
	"react":         {"chat_id", "message_id", "emoji"},
	"interrupt":     {"session_key"},
}

// jsonToMsgpack re-encodes a JSON object as a MessagePack map with the same
// keys and values.
func jsonToMsgpack(tb testing.TB, in string) []byte {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(in), &m); err != nil {
		tb.Fatalf("bad test JSON %s: %v", in, err)
	}
	b, err := msgpack.Marshal(m)
	if err != nil {
		tb.Fatalf("msgpack.Marshal: %v", err)
	}
	return b
}

// checkActionReason asserts that err is a *ActionError (or nil) with the
// wanted reason and field.
func checkActionReason(tb testing.TB, call string, err error, wantReason, wantField string) {
	tb.Helper()
	if wantReason == "" {
		if err != nil {
			tb.Fatalf("%s error = %v, want nil", call, err)
		}
		return
	}
	var ae *events.ActionError
	if !errors.As(err, &ae) {
		tb.Fatalf("%s error = %v (%T), want an *ActionError with reason %s", call, err, err, wantReason)
	}
	if !errors.Is(err, events.ErrBadAction) {
		tb.Errorf("%s: errors.Is(err, ErrBadAction) = false", call)
	}
	if ae.Reason != wantReason || ae.Field != wantField {
		tb.Fatalf("%s error = %v, want reason %q field %q", call, err, wantReason, wantField)
	}
	if got := events.Reason(err); got != wantReason {
		tb.Errorf("Reason(%v) = %q, want %q", err, got, wantReason)
	}
}

func TestDecodeAction(t *testing.T) {
	for _, tt := range actionTests {
		for _, codec := range []struct {
			name, contentType string
			data              func(testing.TB) []byte
		}{
			{"JSON", events.ContentTypeJSON, func(testing.TB) []byte { return []byte(tt.in) }},
			{"Msgpack", events.ContentTypeMsgpack, func(tb testing.TB) []byte { return jsonToMsgpack(tb, tt.in) }},
			{"MsgpackDefault", "", func(tb testing.TB) []byte { return jsonToMsgpack(tb, tt.in) }},
		} {
			t.Run(tt.name+"/"+codec.name, func(t *testing.T) {
				got, err := events.DecodeAction(codec.data(t), codec.contentType, tt.subjectOp)
				checkActionReason(t, "DecodeAction("+tt.in+")", err, tt.wantReason, tt.wantField)
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Fatalf("DecodeAction(%s) mismatch (-want +got):\n%s", tt.in, diff)
				}
			})
		}
	}
}

func TestDecodeActionRequiredFields(t *testing.T) {
	full := map[string]any{"chat_id": "c", "content": "x", "message_id": "m", "session_key": "k", "emoji": "e"}
	for op, keys := range requiredKeys {
		for _, missing := range keys {
			m := map[string]any{"op": op}
			for _, k := range keys {
				if k != missing {
					m[k] = full[k]
				}
			}
			js, _ := json.Marshal(m)
			mp, _ := msgpack.Marshal(m)
			for ct, data := range map[string][]byte{events.ContentTypeJSON: js, events.ContentTypeMsgpack: mp} {
				t.Run(op+"/"+missing+"/"+ct, func(t *testing.T) {
					_, err := events.DecodeAction(data, ct, "")
					checkActionReason(t, "DecodeAction("+string(js)+")", err, events.ReasonMissingField, missing)
				})
			}
		}
		t.Run(op+"/OK", func(t *testing.T) {
			m := map[string]any{"op": op}
			for _, k := range keys {
				m[k] = full[k]
			}
			mp, _ := msgpack.Marshal(m)
			if _, err := events.DecodeAction(mp, "", ""); err != nil {
				t.Fatalf("DecodeAction(%v) error = %v", m, err)
			}
		})
	}
}

func TestDecodeActionEncoding(t *testing.T) {
	valid := jsonToMsgpack(t, `{"op":"typing","chat_id":"c"}`)
	tests := []struct {
		name        string
		data        []byte
		contentType string
		wantReason  string
		wantField   string
	}{
		{"UnsupportedContentType", []byte(`{"op":"typing","chat_id":"c"}`), "text/plain", events.ReasonBadEncoding, events.ContentTypeHeader},
		{"UnsupportedMsgpackAlias", valid, "application/x-msgpack", events.ReasonBadEncoding, events.ContentTypeHeader},
		{"JSONWithParameters", []byte(`{"op":"typing","chat_id":"c"}`), "application/json; charset=utf-8", "", ""},
		{"JSONUpperCase", []byte(`{"op":"typing","chat_id":"c"}`), "Application/JSON", "", ""},
		{"MsgpackWithParameters", valid, "application/msgpack ; v=1", "", ""},
		{"JSONSurroundingWhitespace", []byte(" \n{\"op\":\"typing\",\"chat_id\":\"c\"}\r\n"), events.ContentTypeJSON, "", ""},
		{"JSONEmpty", nil, events.ContentTypeJSON, events.ReasonNotJSON, ""},
		{"JSONGarbage", []byte(`op=send`), events.ContentTypeJSON, events.ReasonNotJSON, ""},
		{"JSONTruncated", []byte(`{"op":"send","chat_id":`), events.ContentTypeJSON, events.ReasonNotJSON, ""},
		{"JSONTrailing", []byte(`{"op":"typing","chat_id":"c"} {}`), events.ContentTypeJSON, events.ReasonNotJSON, ""},
		{"JSONArray", []byte(`[{"op":"typing","chat_id":"c"}]`), events.ContentTypeJSON, events.ReasonNotObject, ""},
		{"JSONNumber", []byte(`5`), events.ContentTypeJSON, events.ReasonNotObject, ""},
		{"JSONString", []byte(`"send"`), events.ContentTypeJSON, events.ReasonNotObject, ""},
		{"JSONNull", []byte(`null`), events.ContentTypeJSON, events.ReasonNotObject, ""},
		{"MsgpackEmpty", nil, events.ContentTypeMsgpack, events.ReasonBadEncoding, ""},
		{"MsgpackTruncated", valid[:len(valid)-1], events.ContentTypeMsgpack, events.ReasonBadEncoding, ""},
		{"MsgpackTrailing", append(append([]byte{}, valid...), 0xc0), events.ContentTypeMsgpack, events.ReasonBadEncoding, ""},
		{"MsgpackReservedCode", []byte{0x81, 0xa2, 'o', 'p', 0xc1}, events.ContentTypeMsgpack, events.ReasonBadEncoding, ""},
		{"MsgpackHugeArray", []byte{0x81, 0xa8, 'm', 'e', 't', 'a', 'd', 'a', 't', 'a', 0x81, 0xa1, 'a', 0xdd, 0xff, 0xff, 0xff, 0xff}, events.ContentTypeMsgpack, events.ReasonBadEncoding, ""},
		{"MsgpackHugeMap", []byte{0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0}, events.ContentTypeMsgpack, events.ReasonBadEncoding, ""},
		{"MsgpackHugeString", []byte{0x81, 0xa2, 'o', 'p', 0xdb, 0xff, 0xff, 0xff, 0xff}, events.ContentTypeMsgpack, events.ReasonBadEncoding, ""},
		{"MsgpackArray", jsonToMsgpackValue(t, []any{"send", "c", "hi"}), events.ContentTypeMsgpack, events.ReasonNotObject, ""},
		{"MsgpackNil", []byte{0xc0}, events.ContentTypeMsgpack, events.ReasonNotObject, ""},
		{"MsgpackString", jsonToMsgpackValue(t, "send"), events.ContentTypeMsgpack, events.ReasonNotObject, ""},
		{"MsgpackIntKeys", []byte{0x81, 0x01, 0xa4, 's', 'e', 'n', 'd'}, events.ContentTypeMsgpack, events.ReasonBadEncoding, ""},
		{"MsgpackJSONBytes", []byte(`{"op":"typing","chat_id":"c"}`), events.ContentTypeMsgpack, events.ReasonBadEncoding, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := events.DecodeAction(tt.data, tt.contentType, "")
			checkActionReason(t, "DecodeAction", err, tt.wantReason, tt.wantField)
		})
	}
}

func TestDecodeActionDeepMsgpack(t *testing.T) {
	// metadata: {"a": [[[[...]]]]} nested deeper than any real action.
	b := []byte{0x81, 0xa8, 'm', 'e', 't', 'a', 'd', 'a', 't', 'a', 0x81, 0xa1, 'a'}
	for range 100_000 {
		b = append(b, 0x91)
	}
	b = append(b, 0xc0)
	_, err := events.DecodeAction(b, events.ContentTypeMsgpack, "send")
	checkActionReason(t, "DecodeAction(deep)", err, events.ReasonBadEncoding, "")
}

func jsonToMsgpackValue(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		tb.Fatalf("msgpack.Marshal: %v", err)
	}
	return b
}

func TestActionAppendJSON(t *testing.T) {
	meta := map[string]any{"scope_id": "g1", "guild_id": "g1", "user_id": "u1", "n": 2}
	tests := []struct {
		name       string
		action     events.Action
		want       string
		wantReason string
	}{
		{"Send", events.Action{Op: "send", ChatID: "c", Content: "hi"},
			`{"op":"send","chat_id":"c","content":"hi","reply_to":null,"metadata":{}}`, ""},
		{"SendReplyToAndMetadata", events.Action{Op: "send", ChatID: "c", Content: "hi", ReplyTo: strPtr("m0"), Metadata: meta},
			`{"op":"send","chat_id":"c","content":"hi","reply_to":"m0","metadata":{"guild_id":"g1","n":2,"scope_id":"g1","user_id":"u1"}}`, ""},
		{"SendEmptyMetadataMap", events.Action{Op: "send", ChatID: "c", Content: "hi", Metadata: map[string]any{}},
			`{"op":"send","chat_id":"c","content":"hi","reply_to":null,"metadata":{}}`, ""},
		{"SendOtherKeysLeftOut", events.Action{Op: "send", ChatID: "c", Content: "hi", Emoji: "x", SessionKey: "k", MessageID: "m", Remove: true, Platform: "discord", BotID: "1"},
			`{"op":"send","chat_id":"c","content":"hi","reply_to":null,"metadata":{}}`, ""},
		{"SendEscaped", events.Action{Op: "send", ChatID: "c", Content: "line1\nline2 \"q\" <b>"},
			`{"op":"send","chat_id":"c","content":"line1\nline2 \"q\" \u003cb\u003e","reply_to":null,"metadata":{}}`, ""},
		{"FollowUp", events.Action{Op: "follow_up", SessionKey: "k", Kind: events.FollowUpKindDiscord, Content: "hi"},
			`{"op":"follow_up","session_key":"k","kind":"discord.interaction_token","content":"hi","metadata":{}}`, ""},
		{"Edit", events.Action{Op: "edit", ChatID: "c", MessageID: "m", Content: "x", Metadata: map[string]any{"scope_id": "g"}},
			`{"op":"edit","chat_id":"c","message_id":"m","content":"x","metadata":{"scope_id":"g"}}`, ""},
		{"Typing", events.Action{Op: "typing", ChatID: "c"}, `{"op":"typing","chat_id":"c","metadata":{}}`, ""},
		{"GetChatInfoNoMetadata", events.Action{Op: "get_chat_info", ChatID: "c", Metadata: meta}, `{"op":"get_chat_info","chat_id":"c"}`, ""},
		{"Delete", events.Action{Op: "delete", ChatID: "c", MessageID: "m"}, `{"op":"delete","chat_id":"c","message_id":"m","metadata":{}}`, ""},
		{"React", events.Action{Op: "react", ChatID: "c", MessageID: "m", Emoji: "👍"},
			`{"op":"react","chat_id":"c","message_id":"m","emoji":"👍","remove":false,"metadata":{}}`, ""},
		{"ReactRemove", events.Action{Op: "react", ChatID: "c", MessageID: "m", Emoji: "👍", Remove: true},
			`{"op":"react","chat_id":"c","message_id":"m","emoji":"👍","remove":true,"metadata":{}}`, ""},
		{"InterruptNullReason", events.Action{Op: "interrupt", SessionKey: "k", Metadata: meta}, `{"op":"interrupt","session_key":"k","reason":null}`, ""},
		{"InterruptReason", events.Action{Op: "interrupt", SessionKey: "k", Reason: strPtr("stop")}, `{"op":"interrupt","session_key":"k","reason":"stop"}`, ""},
		{"ErrUnknownOp", events.Action{Op: "pin", ChatID: "c"}, "", events.ReasonUnknownOp},
		{"ErrMetadataNaN", events.Action{Op: "typing", ChatID: "c", Metadata: map[string]any{"x": math.NaN()}}, "", events.ReasonWrongType},
		{"ErrMetadataNonStringKeys", events.Action{Op: "typing", ChatID: "c", Metadata: map[string]any{"x": map[any]any{1: 2}}}, "", events.ReasonWrongType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.action.AppendJSON([]byte("prefix"))
			if tt.wantReason != "" {
				wantField := "op"
				if tt.wantReason == events.ReasonWrongType {
					wantField = "metadata"
				}
				checkActionReason(t, "AppendJSON", err, tt.wantReason, wantField)
				return
			}
			if err != nil {
				t.Fatalf("AppendJSON(%+v) error = %v", tt.action, err)
			}
			if string(got) != "prefix"+tt.want {
				t.Fatalf("AppendJSON(%+v)\n got %s\nwant prefix%s", tt.action, got, tt.want)
			}
			body := strings.TrimPrefix(string(got), "prefix")
			if !json.Valid([]byte(body)) {
				t.Fatalf("AppendJSON wrote invalid JSON %s", body)
			}
			// What AppendJSON writes decodes back to the same action.
			back, err := events.DecodeAction([]byte(body), events.ContentTypeJSON, "")
			if err != nil {
				t.Fatalf("DecodeAction(AppendJSON) error = %v", err)
			}
			again, _ := back.AppendJSON(nil)
			if string(again) != body {
				t.Fatalf("AppendJSON(DecodeAction(%s)) = %s", body, again)
			}
		})
	}
}

func TestActionValidate(t *testing.T) {
	for _, tt := range []struct {
		a          events.Action
		wantReason string
		wantField  string
	}{
		{events.Action{Op: "send", ChatID: "c", Content: "x"}, "", ""},
		{events.Action{}, events.ReasonMissingField, "op"},
		{events.Action{Op: "nope"}, events.ReasonUnknownOp, "op"},
		{events.Action{Op: "react", ChatID: "c", MessageID: "m"}, events.ReasonMissingField, "emoji"},
		{events.Action{Op: "edit", ChatID: "c", Content: "x"}, events.ReasonMissingField, "message_id"},
	} {
		checkActionReason(t, "Validate("+tt.a.Op+")", tt.a.Validate(), tt.wantReason, tt.wantField)
	}
}

func TestActionMetadata(t *testing.T) {
	var a events.Action
	if got := a.MetadataString("scope_id"); got != "" {
		t.Fatalf("MetadataString on nil metadata = %q", got)
	}
	a.SetMetadataDefault("scope_id", "")
	if a.Metadata != nil {
		t.Fatalf("SetMetadataDefault with an empty value created metadata %v", a.Metadata)
	}
	a.SetMetadataDefault("scope_id", "g1")
	a.SetMetadataDefault("scope_id", "g2")
	a.Metadata["user_id"] = ""
	a.SetMetadataDefault("user_id", "u1")
	a.Metadata["profile"] = nil
	a.SetMetadataDefault("profile", "p")
	a.Metadata["n"] = 5
	a.SetMetadataDefault("n", "x")
	want := map[string]any{"scope_id": "g1", "user_id": "u1", "profile": "p", "n": 5}
	if diff := cmp.Diff(want, a.Metadata); diff != "" {
		t.Fatalf("metadata mismatch (-want +got):\n%s", diff)
	}
	if got := a.MetadataString("n"); got != "" {
		t.Fatalf("MetadataString(non-string) = %q, want empty", got)
	}
	if got := a.MetadataString("scope_id"); got != "g1" {
		t.Fatalf("MetadataString(scope_id) = %q, want g1", got)
	}
}

// resultTests is the ParseResult table; FuzzParseResult seeds from it.
var resultTests = []struct {
	name       string
	in         string
	want       events.SendResult
	wantReason string
}{
	{"Success", `{"success":true,"message_id":"m1"}`, events.SendResult{Success: true, MessageID: "m1"}, ""},
	{"NumericSnowflake", `{"success":true,"message_id":1234567890123456789}`, events.SendResult{Success: true, MessageID: "1234567890123456789"}, ""},
	{"NumericSmall", `{"success":true,"message_id":42,"thread_id":7}`, events.SendResult{Success: true, MessageID: "42", ThreadID: "7"}, ""},
	{"Failure", `{"success":false,"error":"boom","code":"rate_limited"}`, events.SendResult{Error: "boom", Code: "rate_limited"}, ""},
	{"SuccessNotBool", `{"success":"true","message_id":"m"}`, events.SendResult{MessageID: "m"}, ""},
	{"AmbiguousNotBool", `{"success":false,"ambiguous":"yes"}`, events.SendResult{}, ""},
	{"Ambiguous", `{"success":false,"error":"relay outbound timed out","ambiguous":true}`, events.SendResult{Error: events.ErrTextTimedOut, Ambiguous: true}, ""},
	{"Continuation", `{"success":true,"message_id":"m1","continuation_message_ids":["m2",3,null,""]}`, events.SendResult{Success: true, MessageID: "m1", ContinuationMessageIDs: []string{"m2", "3"}}, ""},
	{"ContinuationNotArray", `{"success":true,"continuation_message_ids":"m2"}`, events.SendResult{Success: true}, ""},
	{"ChatInfoNested", `{"success":true,"chat_info":{"name":"general","type":"group"}}`, events.SendResult{Success: true, ChatInfo: &events.ChatInfo{Name: "general", Type: "group"}}, ""},
	{"ChatInfoTopLevel", `{"success":true,"name":"general","type":"channel"}`, events.SendResult{Success: true, ChatInfo: &events.ChatInfo{Name: "general", Type: "channel"}}, ""},
	{"ChatInfoNestedWins", `{"chat_info":{"name":"a","type":"dm"},"name":"b","type":"group"}`, events.SendResult{ChatInfo: &events.ChatInfo{Name: "a", Type: "dm"}}, ""},
	{"ChatInfoEmptyFallsBack", `{"chat_info":{},"name":"b"}`, events.SendResult{ChatInfo: &events.ChatInfo{Name: "b"}}, ""},
	{"ChatInfoNotObject", `{"chat_info":"x","type":"group"}`, events.SendResult{ChatInfo: &events.ChatInfo{Type: "group"}}, ""},
	{"ChatInfoNumericName", `{"chat_info":{"name":12345678901234567890}}`, events.SendResult{ChatInfo: &events.ChatInfo{Name: "12345678901234567890"}}, ""},
	{"UnknownKeys", `{"success":true,"extra":{"a":[1]}}`, events.SendResult{Success: true}, ""},
	{"Empty", `{}`, events.SendResult{}, ""},
	{"Null", `null`, events.SendResult{}, ""},
	{"ErrArray", `[]`, events.SendResult{}, events.ReasonWrongType},
	{"ErrString", `"ok"`, events.SendResult{}, events.ReasonWrongType},
	{"ErrTruncated", `{"success":`, events.SendResult{}, events.ReasonWrongType},
	{"ErrTrailing", `{} {}`, events.SendResult{}, events.ReasonWrongType},
	{"ErrEmpty", ``, events.SendResult{}, events.ReasonWrongType},
}

func TestParseResult(t *testing.T) {
	for _, tt := range resultTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := events.ParseResult([]byte(tt.in))
			wantField := ""
			if tt.wantReason != "" {
				wantField = "result"
			}
			checkReason(t, "ParseResult("+tt.in+")", err, tt.wantReason, wantField)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("ParseResult(%s) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestResultDeclinedTransient(t *testing.T) {
	tests := []struct {
		name          string
		r             events.SendResult
		wantDeclined  bool
		wantTransient bool
	}{
		{"Success", events.SendResult{Success: true}, false, false},
		{"DeclinedCode", events.SendResult{Code: events.CodeEgressDeclined}, true, false},
		{"DeclinedText", events.SendResult{Error: "Egress declined: target not routed to an onboarded tenant"}, true, false},
		{"DeclinedTextUpper", events.SendResult{Error: "relay: EGRESS DECLINED: no tenant"}, true, false},
		{"DeclinedTextNoColon", events.SendResult{Error: "egress declined"}, false, false},
		{"SuccessWithDeclineCode", events.SendResult{Success: true, Code: events.CodeEgressDeclined}, false, false},
		{"NotConnected", events.ResultNotConnected, false, true},
		{"ConnLostIsAmbiguous", events.ResultConnLost, false, false},
		{"ConnLostWithoutFlagIsNotRetried", events.SendResult{Error: events.ErrTextConnLost}, false, false},
		{"TimedOutIsAmbiguous", events.ResultTimedOut, false, false},
		{"InterruptedIsAmbiguous", events.ResultInterrupted, false, false},
		{"NotConnectedButAmbiguous", events.SendResult{Error: events.ErrTextNotConnected, Ambiguous: true}, false, false},
		{"OtherError", events.SendResult{Error: "rate limited"}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.Declined(); got != tt.wantDeclined {
				t.Errorf("%+v.Declined() = %v, want %v", tt.r, got, tt.wantDeclined)
			}
			if got := tt.r.Transient(); got != tt.wantTransient {
				t.Errorf("%+v.Transient() = %v, want %v", tt.r, got, tt.wantTransient)
			}
		})
	}
}

func TestSynthesizedResultsJSON(t *testing.T) {
	// The exact objects of contract §2.
	for _, tt := range []struct {
		r    events.SendResult
		want string
	}{
		{events.ResultNotConnected, `{"success":false,"error":"relay transport not connected"}`},
		{events.ResultConnLost, `{"success":false,"error":"relay transport connection lost","ambiguous":true}`},
		{events.ResultTimedOut, `{"success":false,"error":"relay outbound timed out","ambiguous":true}`},
	} {
		got, err := events.Marshal(tt.r, events.ContentTypeJSON)
		if err != nil || string(got) != tt.want {
			t.Errorf("Marshal(%+v) = %s, %v, want %s", tt.r, got, err, tt.want)
		}
	}
}

func TestBusError(t *testing.T) {
	e := &events.Error{Code: "not_found", Message: "no such chat"}
	if got, want := e.Error(), "not_found: no such chat"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
}
