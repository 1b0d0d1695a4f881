package wire_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/internal/frametest"
	"github.com/relaybus/relaybus/pkg/wire"
)

const forwardJSON = `{"platform":"discord","botId":"123","method":"POST","path":"/interactions/discord/123",` +
	`"headers":[["Content-Type","application/json"],["X-Signature-Ed25519","abc"]],"bodyB64":"eyJ0eXBlIjoyfQ==","profile":"support"}`

// frameTests is the DecodeFrame table; FuzzDecodeFrame seeds from it.
var frameTests = []struct {
	name       string
	in         string
	want       wire.Frame
	wantReason string // "" for a valid frame
	wantField  string
}{
	// Every connector → gateway frame type.
	{name: "Descriptor", in: `{"type":"descriptor","descriptor":{"contract_version":1,"platform":"discord"}}`,
		want: wire.Frame{Type: "descriptor", Descriptor: json.RawMessage(`{"contract_version":1,"platform":"discord"}`)}},
	{name: "Inbound", in: `{"type":"inbound","event":{"text":"hi","source":{"platform":"telegram","chat_id":"5"}}}`,
		want: wire.Frame{Type: "inbound", Event: json.RawMessage(`{"text":"hi","source":{"platform":"telegram","chat_id":"5"}}`)}},
	{name: "InboundBuffered", in: `{"type":"inbound","bufferId":"buf-1","event":{}}`,
		want: wire.Frame{Type: "inbound", BufferID: "buf-1", Event: json.RawMessage(`{}`)}},
	{name: "PassthroughForward", in: `{"type":"passthrough_forward","bufferId":"buf-2","forward":` + forwardJSON + `}`,
		want: wire.Frame{Type: "passthrough_forward", BufferID: "buf-2", Forward: json.RawMessage(forwardJSON)}},
	{name: "OutboundResult", in: `{"type":"outbound_result","requestId":"0123456789abcdef0123456789abcdef","result":{"success":true,"message_id":"m1"}}`,
		want: wire.Frame{Type: "outbound_result", RequestID: "0123456789abcdef0123456789abcdef", Result: json.RawMessage(`{"success":true,"message_id":"m1"}`)}},
	{name: "OutboundResultMissingResult", in: `{"type":"outbound_result","requestId":"r1"}`,
		want: wire.Frame{Type: "outbound_result", RequestID: "r1", Result: json.RawMessage(`{}`)}},
	{name: "OutboundResultNullResult", in: `{"type":"outbound_result","requestId":"r1","result":null}`,
		want: wire.Frame{Type: "outbound_result", RequestID: "r1", Result: json.RawMessage(`{}`)}},
	{name: "InterruptInbound", in: `{"type":"interrupt_inbound","session_key":"agent:main:discord:group:c:u","chat_id":"c"}`,
		want: wire.Frame{Type: "interrupt_inbound", SessionKey: "agent:main:discord:group:c:u", ChatID: "c"}},
	{name: "GoingIdleAck", in: `{"type":"going_idle_ack"}`, want: wire.Frame{Type: "going_idle_ack"}},
	{name: "UnknownTypePasses", in: `{"type":"future_thing","payload":{"x":[1,2]},"event":"not checked"}`,
		want: wire.Frame{Type: "future_thing", Event: json.RawMessage(`"not checked"`)}},
	{name: "EchoedGatewayTypePasses", in: `{"type":"hello","platform":"relay","botId":""}`, want: wire.Frame{Type: "hello"}},
	{name: "SurroundingJSONWhitespace", in: " \t\r\n{\"type\":\"going_idle_ack\"}\r\n", want: wire.Frame{Type: "going_idle_ack"}},
	{name: "UnknownKeysIgnored", in: `{"type":"going_idle_ack","extra":{"deep":[null]}}`, want: wire.Frame{Type: "going_idle_ack"}},

	// not_json
	{name: "NotJSONEmpty", in: ``, wantReason: events.ReasonNotJSON},
	{name: "NotJSONBlank", in: "  \n", wantReason: events.ReasonNotJSON},
	{name: "NotJSONText", in: `hello`, wantReason: events.ReasonNotJSON},
	{name: "NotJSONTruncated", in: `{"type":"inbound","event":{`, wantReason: events.ReasonNotJSON},
	{name: "NotJSONOpenBrace", in: `{`, wantReason: events.ReasonNotJSON},
	{name: "NotJSONTwoObjects", in: `{"type":"a"} {"type":"b"}`, wantReason: events.ReasonNotJSON},
	{name: "NotJSONSingleQuotes", in: `{'type':'inbound'}`, wantReason: events.ReasonNotJSON},
	{name: "NotJSONTrailingComma", in: `{"type":"inbound",}`, wantReason: events.ReasonNotJSON},
	{name: "NotJSONNBSP", in: "\u00a0{\"type\":\"going_idle_ack\"}", wantReason: events.ReasonNotJSON},
	{name: "NotJSONBinary", in: "\xff\xfe", wantReason: events.ReasonNotJSON},
	{name: "NotJSONBareWord", in: `nul`, wantReason: events.ReasonNotJSON},

	// not_object
	{name: "NotObjectEmptyArray", in: `[]`, wantReason: events.ReasonNotObject},
	{name: "NotObjectArrayOfFrame", in: `[{"type":"inbound","event":{}}]`, wantReason: events.ReasonNotObject},
	{name: "NotObjectNumber", in: `42`, wantReason: events.ReasonNotObject},
	{name: "NotObjectNegative", in: `-1.5e3`, wantReason: events.ReasonNotObject},
	{name: "NotObjectString", in: `"inbound"`, wantReason: events.ReasonNotObject},
	{name: "NotObjectNull", in: `null`, wantReason: events.ReasonNotObject},
	{name: "NotObjectBool", in: `true`, wantReason: events.ReasonNotObject},

	// missing_type
	{name: "MissingTypeEmptyObject", in: `{}`, wantReason: events.ReasonMissingType, wantField: "type"},
	{name: "MissingTypeOnlyEvent", in: `{"event":{"text":"x"}}`, wantReason: events.ReasonMissingType, wantField: "type"},
	{name: "MissingTypeEmptyString", in: `{"type":""}`, wantReason: events.ReasonMissingType, wantField: "type"},
	{name: "MissingTypeNull", in: `{"type":null}`, wantReason: events.ReasonMissingType, wantField: "type"},

	// wrong_type
	{name: "WrongTypeTypeNumber", in: `{"type":5}`, wantReason: events.ReasonWrongType, wantField: "type"},
	{name: "WrongTypeTypeObject", in: `{"type":{"name":"inbound"}}`, wantReason: events.ReasonWrongType, wantField: "type"},
	{name: "WrongTypeTypeArray", in: `{"type":["inbound"]}`, wantReason: events.ReasonWrongType, wantField: "type"},
	{name: "WrongTypeTypeBool", in: `{"type":true}`, wantReason: events.ReasonWrongType, wantField: "type"},
	{name: "WrongTypeEventString", in: `{"type":"inbound","event":"hi"}`, wantReason: events.ReasonWrongType, wantField: "event"},
	{name: "WrongTypeEventArray", in: `{"type":"inbound","event":[{}]}`, wantReason: events.ReasonWrongType, wantField: "event"},
	{name: "WrongTypeEventNumber", in: `{"type":"inbound","event":1}`, wantReason: events.ReasonWrongType, wantField: "event"},
	{name: "WrongTypeForwardString", in: `{"type":"passthrough_forward","forward":"eyJ9"}`, wantReason: events.ReasonWrongType, wantField: "forward"},
	{name: "WrongTypeDescriptorArray", in: `{"type":"descriptor","descriptor":[]}`, wantReason: events.ReasonWrongType, wantField: "descriptor"},
	{name: "WrongTypeResultString", in: `{"type":"outbound_result","requestId":"r1","result":"ok"}`, wantReason: events.ReasonWrongType, wantField: "result"},
	{name: "WrongTypeResultArray", in: `{"type":"outbound_result","requestId":"r1","result":[]}`, wantReason: events.ReasonWrongType, wantField: "result"},
	{name: "WrongTypeBufferID", in: `{"type":"inbound","bufferId":7,"event":{}}`, wantReason: events.ReasonWrongType, wantField: "bufferId"},
	{name: "WrongTypeRequestID", in: `{"type":"outbound_result","requestId":7,"result":{}}`, wantReason: events.ReasonWrongType, wantField: "requestId"},
	{name: "WrongTypeSessionKey", in: `{"type":"interrupt_inbound","session_key":["k"],"chat_id":"c"}`, wantReason: events.ReasonWrongType, wantField: "session_key"},

	// null_field
	{name: "NullEvent", in: `{"type":"inbound","event":null}`, wantReason: events.ReasonNullField, wantField: "event"},
	{name: "NullForward", in: `{"type":"passthrough_forward","bufferId":"b","forward":null}`, wantReason: events.ReasonNullField, wantField: "forward"},
	{name: "NullDescriptor", in: `{"type":"descriptor","descriptor":null}`, wantReason: events.ReasonNullField, wantField: "descriptor"},

	// missing_field
	{name: "MissingEvent", in: `{"type":"inbound","bufferId":"b"}`, wantReason: events.ReasonMissingField, wantField: "event"},
	{name: "MissingForward", in: `{"type":"passthrough_forward"}`, wantReason: events.ReasonMissingField, wantField: "forward"},
	{name: "MissingDescriptor", in: `{"type":"descriptor"}`, wantReason: events.ReasonMissingField, wantField: "descriptor"},
	{name: "OutboundResultMissingRequestID", in: `{"type":"outbound_result","result":{"success":true}}`, wantReason: events.ReasonMissingField, wantField: "requestId"},
	{name: "OutboundResultEmptyRequestID", in: `{"type":"outbound_result","requestId":"","result":{}}`, wantReason: events.ReasonMissingField, wantField: "requestId"},
	{name: "InterruptInboundMissingSessionKey", in: `{"type":"interrupt_inbound","chat_id":"c"}`, wantReason: events.ReasonMissingField, wantField: "session_key"},
	{name: "InterruptInboundEmptySessionKey", in: `{"type":"interrupt_inbound","session_key":"","chat_id":"c"}`, wantReason: events.ReasonMissingField, wantField: "session_key"},

	// ambiguous_key (issue #14): encoding/json folds key case, so these
	// read differently to a connector matching keys exactly.
	{name: "AmbiguousTypeVariant", in: `{"type":"inbound","Type":"descriptor","event":{},"descriptor":{}}`, wantReason: events.ReasonAmbiguousKey, wantField: "type"},
	{name: "AmbiguousBufferIDVariant", in: `{"type":"inbound","bufferId":"a","BufferID":"b","event":{}}`, wantReason: events.ReasonAmbiguousKey, wantField: "bufferId"},
	{name: "AmbiguousVariantFirst", in: `{"BUFFERID":"b","type":"inbound","bufferId":"a","event":{}}`, wantReason: events.ReasonAmbiguousKey, wantField: "bufferId"},
	{name: "AmbiguousLoneVariant", in: `{"Type":"going_idle_ack"}`, wantReason: events.ReasonAmbiguousKey, wantField: "type"},
	{name: "AmbiguousKelvinSign", in: "{\"type\":\"interrupt_inbound\",\"session_\u212Aey\":\"k2\",\"session_key\":\"k\"}", wantReason: events.ReasonAmbiguousKey, wantField: "session_key"},
	{name: "AmbiguousEscapedVariant", in: `{"type":"inbound","\u0045vent":{},"event":{}}`, wantReason: events.ReasonAmbiguousKey, wantField: "event"},
	{name: "ExactDuplicatesStillLastWins", in: `{"type":"going_idle_ack","type":"going_idle_ack"}`, want: wire.Frame{Type: "going_idle_ack"}},
}

// checkReason asserts that err is a *FrameError (or nil) with the wanted
// reason and field.
var checkReason = frametest.CheckReason

func TestDecodeFrame(t *testing.T) {
	for _, tt := range frameTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := wire.DecodeFrame([]byte(tt.in))
			checkReason(t, "DecodeFrame("+tt.in+")", err, tt.wantReason, tt.wantField)
			if err != nil {
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("DecodeFrame(%s) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestFrameErrorMessage(t *testing.T) {
	_, err := wire.DecodeFrame([]byte(`{"type":"inbound","event":null}`))
	if got, want := err.Error(), "events: bad frame: null_field (event): event is null"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
}

// forwardTests is the DecodeForward table; FuzzDecodeForward seeds from it.
var forwardTests = []struct {
	name       string
	in         string
	want       wire.PassthroughForward
	wantReason string
	wantField  string
}{
	{name: "OK", in: forwardJSON, want: wire.PassthroughForward{
		Platform: "discord", BotID: "123", Method: "POST", Path: "/interactions/discord/123",
		Headers: [][2]string{{"Content-Type", "application/json"}, {"X-Signature-Ed25519", "abc"}},
		BodyB64: "eyJ0eXBlIjoyfQ==", Profile: "support",
	}},
	{name: "OKMinimal", in: `{"platform":"twilio","bodyB64":""}`, want: wire.PassthroughForward{Platform: "twilio"}},
	{name: "OKMalformedHeadersDropped", in: `{"platform":"discord","bodyB64":"","headers":[` +
		`["A","1"],["short"],["a","b","c"],"str",5,null,{},[1,2],["x",null],[null,"y"],["x",7],[],["B","2"],["A","3"]]}`,
		want: wire.PassthroughForward{Platform: "discord", Headers: [][2]string{{"A", "1"}, {"B", "2"}, {"A", "3"}}}},
	{name: "OKNullHeaders", in: `{"platform":"discord","bodyB64":"","headers":null}`, want: wire.PassthroughForward{Platform: "discord"}},
	{name: "OKNullProfile", in: `{"platform":"discord","bodyB64":"","profile":null}`, want: wire.PassthroughForward{Platform: "discord"}},
	{name: "OKUnknownKeys", in: `{"platform":"discord","bodyB64":"","future":[1]}`, want: wire.PassthroughForward{Platform: "discord"}},

	{name: "MissingPlatform", in: `{"bodyB64":""}`, wantReason: events.ReasonMissingField, wantField: "forward.platform"},
	{name: "EmptyPlatform", in: `{"platform":"","bodyB64":""}`, wantReason: events.ReasonMissingField, wantField: "forward.platform"},
	{name: "MissingBody", in: `{"platform":"discord"}`, wantReason: events.ReasonMissingField, wantField: "forward.bodyB64"},
	{name: "NullBody", in: `{"platform":"discord","bodyB64":null}`, wantReason: events.ReasonMissingField, wantField: "forward.bodyB64"},
	{name: "WrongTypeBody", in: `{"platform":"discord","bodyB64":123}`, wantReason: events.ReasonWrongType, wantField: "forward.bodyB64"},
	{name: "WrongTypePlatform", in: `{"platform":["discord"],"bodyB64":""}`, wantReason: events.ReasonWrongType, wantField: "forward.platform"},
	{name: "WrongTypeHeaders", in: `{"platform":"discord","bodyB64":"","headers":{"A":"1"}}`, wantReason: events.ReasonWrongType, wantField: "forward.headers"},
	{name: "Null", in: `null`, wantReason: events.ReasonNullField, wantField: "forward"},
	{name: "Empty", in: ``, wantReason: events.ReasonMissingField, wantField: "forward"},
	{name: "Array", in: `[]`, wantReason: events.ReasonWrongType, wantField: "forward"},
	{name: "NotJSON", in: `{"platform":`, wantReason: events.ReasonNotJSON},
	{name: "AmbiguousBodyB64", in: `{"platform":"discord","bodyB64":"","BodyB64":"e30="}`, wantReason: events.ReasonAmbiguousKey, wantField: "forward.bodyB64"},
	{name: "AmbiguousLoneProfile", in: `{"platform":"discord","bodyB64":"","PROFILE":"x"}`, wantReason: events.ReasonAmbiguousKey, wantField: "forward.profile"},
}

func TestDecodeForward(t *testing.T) {
	for _, tt := range forwardTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := wire.DecodeForward([]byte(tt.in))
			checkReason(t, "DecodeForward("+tt.in+")", err, tt.wantReason, tt.wantField)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("DecodeForward(%s) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestForwardHeader(t *testing.T) {
	f := wire.PassthroughForward{Headers: [][2]string{{"Content-Type", "application/json"}, {"X-A", "1"}, {"x-a", "2"}}}
	for name, want := range map[string]string{"content-type": "application/json", "X-A": "1", "x-a": "1", "Missing": ""} {
		if got := f.Header(name); got != want {
			t.Errorf("Header(%q) = %q, want %q", name, got, want)
		}
	}
}

// bodyTests is the Body table; FuzzDecodeForward seeds from it.
var bodyTests = []struct {
	name    string
	in      string
	want    []byte
	wantBad bool
}{
	{name: "Empty", in: "", want: []byte{}},
	{name: "OnePad", in: "aGk=", want: []byte("hi")},
	{name: "TwoPad", in: "aA==", want: []byte("h")},
	{name: "NoPad", in: "aGV5", want: []byte("hey")},
	{name: "StdAlphabet", in: "+/8=", want: []byte{0xfb, 0xff}},
	{name: "JSON", in: "eyJ0eXBlIjoyfQ==", want: []byte(`{"type":2}`)},
	{name: "MissingPadding", in: "aGk", wantBad: true},
	{name: "MissingTwoPadding", in: "aA", wantBad: true},
	{name: "ExtraPadding", in: "aGk==", wantBad: true},
	{name: "OnlyPadding", in: "====", wantBad: true},
	{name: "PaddingInside", in: "aG=k", wantBad: true},
	{name: "PaddedTwice", in: "aGk=aGk=", wantBad: true},
	{name: "NonZeroTrailingBits", in: "aGl=", wantBad: true},
	{name: "SingleChar", in: "a", wantBad: true},
	{name: "URLAlphabet", in: "-_8=", wantBad: true},
	{name: "InvalidChar", in: "aG*k", wantBad: true},
	{name: "NonASCII", in: "aGk\u00e9", wantBad: true},
	{name: "TrailingNewline", in: "aGk=\n", wantBad: true},
	{name: "EmbeddedNewline", in: "aG\nk=", wantBad: true},
	{name: "EmbeddedCRLF", in: "aG\r\nk=", wantBad: true},
	{name: "CarriageReturn", in: "aGk=\r", wantBad: true},
	{name: "LeadingSpace", in: " aGk=", wantBad: true},
	{name: "Tab", in: "aG\tk=", wantBad: true},
}

func TestForwardBody(t *testing.T) {
	for _, tt := range bodyTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := wire.PassthroughForward{BodyB64: tt.in}.Body()
			if tt.wantBad {
				checkReason(t, "Body("+tt.in+")", err, events.ReasonBadBase64, "forward.bodyB64")
				if got != nil {
					t.Fatalf("Body(%q) = %q with an error, want nil", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Body(%q) error = %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("Body(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestForwardBodyFixture(t *testing.T) {
	body := readDiscordFixture(t, "02_slash_command_options.json")
	f := wire.PassthroughForward{BodyB64: base64.StdEncoding.EncodeToString(body)}
	got, err := f.Body()
	if err != nil {
		t.Fatalf("Body() error = %v", err)
	}
	if string(got) != string(body) {
		t.Fatalf("Body() did not return the exact fixture bytes")
	}
}

// inboundTests is the DecodeInboundEvent table; FuzzDecodeInboundEvent
// seeds from it.
var inboundTests = []struct {
	name       string
	in         string
	want       events.MessageEvent
	wantReason string
	wantField  string
}{
	{name: "Full", in: `{"text":"hello","message_type":"photo","message_id":"m1","reply_to_message_id":"m0",` +
		`"media_urls":["https://x/y.png"],"media":[{"url":"https://x/y.png","kind":"photo","mime":"image/png","size":42,"filename":"y.png","caption":"c"}],` +
		`"source":{"platform":"discord","chat_id":"chan1","chat_type":"group","chat_name":"general","user_id":"u1","user_name":"Ann",` +
		`"thread_id":"","chat_topic":"t","user_id_alt":"","chat_id_alt":"ca","scope_id":"g1","parent_chat_id":"p","message_id":"m1","profile":"support","is_bot":true}}`,
		want: events.MessageEvent{
			Text: "hello", MessageType: "photo", MessageID: "m1", ReplyToMessageID: "m0",
			MediaURLs: []string{"https://x/y.png"},
			Media:     []events.Media{{URL: "https://x/y.png", Kind: "photo", MIME: "image/png", Size: 42, Filename: "y.png", Caption: "c"}},
			Source: events.SessionSource{Platform: "discord", ChatID: "chan1", ChatType: "group", ChatName: "general", UserID: "u1", UserName: "Ann",
				ChatTopic: "t", ChatIDAlt: "ca", ScopeID: "g1", GuildID: "g1", ParentChatID: "p", MessageID: "m1", Profile: "support", IsBot: true},
			SessionKey: "agent:support:discord:group:chan1:u1",
		}},
	{name: "EmptyObjectDefaults", in: `{}`, want: events.MessageEvent{
		MessageType: "text", Source: events.SessionSource{Platform: "relay", ChatType: "dm"}, SessionKey: "agent:main:relay:dm"}},
	{name: "NullSource", in: `{"text":"x","source":null}`, want: events.MessageEvent{
		Text: "x", MessageType: "text", Source: events.SessionSource{Platform: "relay", ChatType: "dm"}, SessionKey: "agent:main:relay:dm"}},
	{name: "UnknownMessageTypeIsText", in: `{"text":"x","message_type":"gif","source":{"platform":"telegram","chat_id":"5"}}`, want: events.MessageEvent{
		Text: "x", MessageType: "text", Source: events.SessionSource{Platform: "telegram", ChatID: "5", ChatType: "dm"}, SessionKey: "agent:main:telegram:dm:5"}},
	{name: "CommandKept", in: `{"text":"/new","message_type":"command","source":{"platform":"telegram","chat_id":"5"}}`, want: events.MessageEvent{
		Text: "/new", MessageType: "command", Source: events.SessionSource{Platform: "telegram", ChatID: "5", ChatType: "dm"}, SessionKey: "agent:main:telegram:dm:5"}},
	{name: "UnknownPlatformIsRelay", in: `{"source":{"platform":"myspace","chat_id":"c","chat_type":"group","user_id":"u"}}`, want: events.MessageEvent{
		MessageType: "text", Source: events.SessionSource{Platform: "relay", ChatID: "c", ChatType: "group", UserID: "u"}, SessionKey: "agent:main:relay:group:c:u"}},
	{name: "UnknownChatTypeIsDM", in: `{"source":{"platform":"telegram","chat_id":"c","chat_type":"supergroup","user_id":"u"}}`, want: events.MessageEvent{
		MessageType: "text", Source: events.SessionSource{Platform: "telegram", ChatID: "c", ChatType: "dm", UserID: "u"}, SessionKey: "agent:main:telegram:dm:c"}},
	{name: "GuildIDMirrorsToScopeID", in: `{"source":{"platform":"discord","chat_id":"c","chat_type":"group","guild_id":"g"}}`, want: events.MessageEvent{
		MessageType: "text", Source: events.SessionSource{Platform: "discord", ChatID: "c", ChatType: "group", ScopeID: "g", GuildID: "g"}, SessionKey: "agent:main:discord:group:c"}},
	{name: "ScopeIDMirrorsToGuildID", in: `{"source":{"platform":"slack","chat_id":"c","chat_type":"channel","scope_id":"T1"}}`, want: events.MessageEvent{
		MessageType: "text", Source: events.SessionSource{Platform: "slack", ChatID: "c", ChatType: "channel", ScopeID: "T1", GuildID: "T1"}, SessionKey: "agent:main:slack:channel:c"}},
	{name: "ScopeIDWins", in: `{"source":{"platform":"discord","chat_id":"c","chat_type":"group","scope_id":"s","guild_id":"g"}}`, want: events.MessageEvent{
		MessageType: "text", Source: events.SessionSource{Platform: "discord", ChatID: "c", ChatType: "group", ScopeID: "s", GuildID: "s"}, SessionKey: "agent:main:discord:group:c"}},
	{name: "SessionKeyKept", in: `{"session_key":"agent:main:discord:group:c:other","source":{"platform":"discord","chat_id":"c","chat_type":"group","user_id":"u"}}`, want: events.MessageEvent{
		MessageType: "text", Source: events.SessionSource{Platform: "discord", ChatID: "c", ChatType: "group", UserID: "u"}, SessionKey: "agent:main:discord:group:c:other"}},
	{name: "NullsAreDefaults", in: `{"text":null,"message_type":null,"media_urls":null,"media":null,"source":{"platform":null,"chat_id":null,"is_bot":null}}`, want: events.MessageEvent{
		MessageType: "text", Source: events.SessionSource{Platform: "relay", ChatType: "dm"}, SessionKey: "agent:main:relay:dm"}},

	{name: "Null", in: `null`, wantReason: events.ReasonNullField, wantField: "event"},
	{name: "Missing", in: ``, wantReason: events.ReasonMissingField, wantField: "event"},
	{name: "Array", in: `[]`, wantReason: events.ReasonWrongType, wantField: "event"},
	{name: "String", in: `"hi"`, wantReason: events.ReasonWrongType, wantField: "event"},
	{name: "TextNumber", in: `{"text":5}`, wantReason: events.ReasonWrongType, wantField: "event.text"},
	{name: "SourceString", in: `{"source":"discord"}`, wantReason: events.ReasonWrongType, wantField: "event.source"},
	{name: "ChatIDNumber", in: `{"source":{"chat_id":5}}`, wantReason: events.ReasonWrongType, wantField: "event.source.chat_id"},
	{name: "IsBotString", in: `{"source":{"is_bot":"yes"}}`, wantReason: events.ReasonWrongType, wantField: "event.source.is_bot"},
	{name: "MediaURLsString", in: `{"media_urls":"https://x"}`, wantReason: events.ReasonWrongType, wantField: "event.media_urls"},
	{name: "MediaSizeString", in: `{"media":[{"url":"u","size":"big"}]}`, wantReason: events.ReasonWrongType, wantField: "event.media.size"},
	{name: "NotJSON", in: `{"text":`, wantReason: events.ReasonNotJSON},
	{name: "AmbiguousSourceChatID", in: `{"source":{"chat_id":"a","Chat_ID":"b"}}`, wantReason: events.ReasonAmbiguousKey, wantField: "event.source.chat_id"},
	{name: "AmbiguousInMedia", in: `{"media":[{"url":"u"},{"url":"u","URL":"v"}]}`, wantReason: events.ReasonAmbiguousKey, wantField: "event.media.url"},
}

func TestDecodeInboundEvent(t *testing.T) {
	for _, tt := range inboundTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := wire.DecodeInboundEvent([]byte(tt.in))
			checkReason(t, "DecodeInboundEvent("+tt.in+")", err, tt.wantReason, tt.wantField)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("DecodeInboundEvent(%s) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestAppendFrames(t *testing.T) {
	reason := "user pressed stop"
	weird := "q\"b\\s/<tag>&\u00e9\U0001F50C\x00\x1f\n\t\u2028"
	weirdJSON := `"q\"b\\s/\u003ctag\u003e\u0026é🔌\u0000\u001f\n\t\u2028"`
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"Hello", wire.AppendHello(nil, "discord", "123"), `{"type":"hello","platform":"discord","botId":"123"}`},
		{"HelloDefault", wire.AppendHello(nil, "relay", ""), `{"type":"hello","platform":"relay","botId":""}`},
		{"HelloEscaped", wire.AppendHello(nil, weird, ""), `{"type":"hello","platform":` + weirdJSON + `,"botId":""}`},
		{"Outbound", wire.AppendOutbound(nil, "0123456789abcdef0123456789abcdef", []byte(`{"op":"typing","chat_id":"c","metadata":{}}`), "discord", "123"),
			`{"type":"outbound","requestId":"0123456789abcdef0123456789abcdef","action":{"op":"typing","chat_id":"c","metadata":{}},"platform":"discord","botId":"123"}`},
		{"OutboundNoIdentity", wire.AppendOutbound(nil, "r1", []byte(`{"op":"typing","chat_id":"c","metadata":{}}`), "", ""),
			`{"type":"outbound","requestId":"r1","action":{"op":"typing","chat_id":"c","metadata":{}}}`},
		{"OutboundPlatformOnly", wire.AppendOutbound(nil, "r1", []byte(`{}`), "telegram", ""),
			`{"type":"outbound","requestId":"r1","action":{},"platform":"telegram"}`},
		{"OutboundBotOnly", wire.AppendOutbound(nil, "r1", []byte(`{}`), "", "9"),
			`{"type":"outbound","requestId":"r1","action":{},"botId":"9"}`},
		{"InterruptNilReason", wire.AppendInterrupt(nil, "agent:main:discord:group:c:u", nil),
			`{"type":"interrupt","session_key":"agent:main:discord:group:c:u","reason":null}`},
		{"InterruptReason", wire.AppendInterrupt(nil, "k", &reason), `{"type":"interrupt","session_key":"k","reason":"user pressed stop"}`},
		{"InterruptEscaped", wire.AppendInterrupt(nil, weird, &weird), `{"type":"interrupt","session_key":` + weirdJSON + `,"reason":` + weirdJSON + `}`},
		{"GoingIdle", wire.AppendGoingIdle(nil), `{"type":"going_idle"}`},
		{"InboundAck", wire.AppendInboundAck(nil, "buf-1"), `{"type":"inbound_ack","bufferId":"buf-1"}`},
		{"InboundAckEscaped", wire.AppendInboundAck(nil, weird), `{"type":"inbound_ack","bufferId":` + weirdJSON + `}`},
		{"AppendsToDst", wire.AppendGoingIdle([]byte("x")), `x{"type":"going_idle"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want + "\n"
			if string(tt.got) != want {
				t.Fatalf("got  %s\nwant %s", tt.got, want)
			}
			frame := strings.TrimPrefix(string(tt.got), "x")
			if strings.Count(frame, "\n") != 1 {
				t.Fatalf("frame %q holds a newline other than its terminator", frame)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(frame), &m); err != nil {
				t.Fatalf("frame %q is not a JSON object: %v", frame, err)
			}
			if _, ok := m["type"].(string); !ok {
				t.Fatalf("frame %q has no string type", frame)
			}
		})
	}
	// Escaped strings decode back to the exact input.
	var m struct {
		SessionKey string `json:"session_key"`
		Reason     string `json:"reason"`
	}
	if err := json.Unmarshal(wire.AppendInterrupt(nil, weird, &weird), &m); err != nil || m.SessionKey != weird || m.Reason != weird {
		t.Fatalf("AppendInterrupt did not round-trip %q: got %+v, %v", weird, m, err)
	}
}

func TestIsControlFrame(t *testing.T) {
	for typ, want := range map[string]bool{
		wire.FrameDescriptor: true, wire.FrameOutboundResult: true, wire.FrameGoingIdleAck: true,
		wire.FrameInbound: false, wire.FramePassthroughForward: false, wire.FrameInterruptInbound: false,
		"some_future_type": false, "": false,
	} {
		if got := wire.IsControlFrame(typ); got != want {
			t.Errorf("IsControlFrame(%q) = %v, want %v", typ, got, want)
		}
	}
}
