package sniff_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/relaybus/relaybus/internal/fixtures"
	"github.com/relaybus/relaybus/pkg/wire"
	"github.com/relaybus/relaybus/services/ws-edge/internal/sniff"
)

var frameTests = []struct {
	name     string
	in       string
	ok       bool
	typ      string
	bufferID string
}{
	{"Inbound", `{"type":"inbound","bufferId":"b-1","event":{"text":"hi","source":{"platform":"discord"}}}`, true, "inbound", "b-1"},
	{"InboundUnbuffered", `{"type":"inbound","event":{}}`, true, "inbound", ""},
	{"Passthrough", `{"type":"passthrough_forward","bufferId":"b-2","forward":{"platform":"discord","headers":[["a","b"]],"bodyB64":"e30="}}`, true, "passthrough_forward", "b-2"},
	{"Interrupt", `{"type":"interrupt_inbound","session_key":"agent:main:x","chat_id":"c1"}`, true, "interrupt_inbound", ""},
	{"UnknownType", `{"type":"brand_new","whatever":[1,2.5e-3,true,false,null,"x"]}`, true, "brand_new", ""},
	{"EchoedGatewayType", `{"type":"hello","platform":"relay","botId":""}`, true, "hello", ""},
	// Case variants of frame keys (issue #14) go to the slow path, which
	// rejects them as ambiguous_key.
	{"CaseVariantType", `{"type":"inbound","Type":"descriptor","event":{},"descriptor":{}}`, false, "", ""},
	{"CaseVariantBufferID", `{"type":"inbound","bufferId":"a","BufferID":"b","event":{}}`, false, "", ""},
	{"LoneCaseVariant", `{"type":"inbound","EVENT":{}}`, false, "", ""},
	{"Whitespace", " \t{ \"type\" : \"inbound\" , \"event\" : { } } \r", true, "inbound", ""},
	{"NullBufferID", `{"type":"inbound","bufferId":null,"event":{}}`, true, "inbound", ""},
	{"NullRequestID", `{"type":"x","requestId":null,"chat_id":null}`, true, "x", ""},
	{"EscapesInPayload", `{"type":"inbound","event":{"text":"a\"b\\c\u00e9\n"}}`, true, "inbound", ""},
	{"NonASCIIInPayload", `{"type":"inbound","event":{"text":"héllo 🔌"}}`, true, "inbound", ""},
	{"InvalidUTF8InPayload", "{\"type\":\"inbound\",\"event\":{\"text\":\"\xff\"}}", true, "inbound", ""},
	{"EmptyObjectsAndArrays", `{"type":"x","a":{},"b":[],"c":[{}],"d":-0.5E+10}`, true, "x", ""},

	// Everything below goes to the slow path.
	{"Descriptor", `{"type":"descriptor","descriptor":{}}`, false, "", ""},
	{"OutboundResult", `{"type":"outbound_result","requestId":"r","result":{}}`, false, "", ""},
	{"GoingIdleAck", `{"type":"going_idle_ack"}`, false, "", ""},
	{"NotJSON", `hello`, false, "", ""},
	{"Array", `[1]`, false, "", ""},
	{"Empty", ``, false, "", ""},
	{"EmptyObject", `{}`, false, "", ""},
	{"MissingType", `{"event":{}}`, false, "", ""},
	{"EmptyType", `{"type":"","event":{}}`, false, "", ""},
	{"NumberType", `{"type":5}`, false, "", ""},
	{"NullEvent", `{"type":"inbound","event":null}`, false, "", ""},
	{"MissingEvent", `{"type":"inbound"}`, false, "", ""},
	{"ArrayEvent", `{"type":"inbound","event":[]}`, false, "", ""},
	{"NullForward", `{"type":"passthrough_forward","forward":null}`, false, "", ""},
	{"InterruptNoSessionKey", `{"type":"interrupt_inbound","chat_id":"c"}`, false, "", ""},
	{"InterruptEmptySessionKey", `{"type":"interrupt_inbound","session_key":""}`, false, "", ""},
	{"NumberBufferID", `{"type":"inbound","bufferId":1,"event":{}}`, false, "", ""},
	{"NumberChatID", `{"type":"x","chat_id":1}`, false, "", ""},
	{"EscapedType", `{"type":"inb\u006fund","event":{}}`, false, "", ""},
	{"EscapedKey", `{"\u0074ype":"x"}`, false, "", ""},
	{"FoldedKey", `{"Type":"x"}`, false, "", ""},
	{"NonASCIIKey", `{"type":"x","ſession_key":"y"}`, false, "", ""},
	{"DuplicateType", `{"type":"x","type":"y"}`, false, "", ""},
	{"TrailingGarbage", `{"type":"x"} x`, false, "", ""},
	{"TwoObjects", `{"type":"x"}{"type":"y"}`, false, "", ""},
	{"Truncated", `{"type":"inbound","event":{"text":"hi"`, false, "", ""},
	{"BadNumber", `{"type":"x","n":01}`, false, "", ""},
	{"BadEscape", `{"type":"x","s":"\q"}`, false, "", ""},
	{"ControlCharInString", "{\"type\":\"x\",\"s\":\"a\tb\"}", false, "", ""},
	{"TrailingComma", `{"type":"x",}`, false, "", ""},
	{"NBSPTrailer", "{\"type\":\"x\"}\u00a0", false, "", ""},
}

func TestFrame(t *testing.T) {
	for _, tt := range frameTests {
		t.Run(tt.name, func(t *testing.T) {
			typ, bid, ok := sniff.Frame([]byte(tt.in))
			if ok != tt.ok || string(typ) != tt.typ || string(bid) != tt.bufferID {
				t.Errorf("Frame(%q) = (%q, %q, %v), want (%q, %q, %v)", tt.in, typ, bid, ok, tt.typ, tt.bufferID, tt.ok)
			}
			agree(t, []byte(tt.in))
		})
	}
}

func TestFrameFixture(t *testing.T) {
	body, err := fixtures.ReadDiscord("02_slash_command_options.json")
	if err != nil {
		t.Fatal(err)
	}
	in := `{"type":"passthrough_forward","bufferId":"b-9","forward":{"platform":"discord","botId":"1","method":"POST","path":"/interactions/discord/1","headers":[["content-type","application/json"]],"bodyB64":"` + base64.StdEncoding.EncodeToString(body) + `"}}`
	typ, bid, ok := sniff.Frame([]byte(in))
	if !ok || string(typ) != wire.FramePassthroughForward || string(bid) != "b-9" {
		t.Errorf("Frame(fixture frame) = (%q, %q, %v), want (passthrough_forward, b-9, true)", typ, bid, ok)
	}
}

func TestFrameDeepNesting(t *testing.T) {
	in := `{"type":"x","a":` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `}`
	if _, _, ok := sniff.Frame([]byte(in)); ok {
		t.Errorf("Frame(2000 nested arrays) ok, want the slow path")
	}
	agree(t, []byte(in))
}

func TestPrefix(t *testing.T) {
	tests := []struct {
		name, in      string
		typ, bufferID string
	}{
		{"Complete", `{"type":"inbound","bufferId":"b-7","event":{}}`, "inbound", "b-7"},
		{"TruncatedAfter", `{"type":"inbound","bufferId":"b-7","event":{"text":"aaaa`, "inbound", "b-7"},
		{"TruncatedInside", `{"type":"inbound","bufferId":"b-`, "inbound", ""},
		{"TruncatedInType", `{"type":"inbo`, "", ""},
		{"Later", `{"type":"inbound","event":{"text":"aaaa`, "inbound", ""},
		{"Nested", `{"type":"inbound","event":{"bufferId":"x"},"z":"`, "inbound", ""},
		{"Garbage", `xx{"bufferId":"b-7"}`, "", ""},
		{"SyntaxErrorBefore", `{"type":"inbound",,"bufferId":"b-7"}`, "", ""},
		{"Empty", ``, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ, bid := sniff.Prefix([]byte(tt.in))
			if typ != tt.typ || bid != tt.bufferID {
				t.Errorf("Prefix(%q) = (%q, %q), want (%q, %q)", tt.in, typ, bid, tt.typ, tt.bufferID)
			}
		})
	}
}

// agree fails when Frame answers ok for a frame wire.DecodeFrame would not
// accept exactly as Frame says.
func agree(t *testing.T, in []byte) {
	t.Helper()
	typ, bid, ok := sniff.Frame(in)
	if !ok {
		return
	}
	f, err := wire.DecodeFrame(in)
	if err != nil {
		t.Fatalf("Frame(%q) ok, but DecodeFrame: %v", in, err)
	}
	if f.Type != string(typ) || f.BufferID != string(bid) || wire.IsControlFrame(f.Type) {
		t.Fatalf("Frame(%q) = (%q, %q), DecodeFrame = (%q, %q)", in, typ, bid, f.Type, f.BufferID)
	}
}

func FuzzFrame(f *testing.F) {
	for _, tt := range frameTests {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		agree(t, in)
		sniff.Prefix(in)
	})
}

func BenchmarkFrame(b *testing.B) {
	body, err := fixtures.ReadDiscord("02_slash_command_options.json")
	if err != nil {
		b.Fatal(err)
	}
	in := []byte(`{"type":"passthrough_forward","bufferId":"b-9","forward":{"platform":"discord","botId":"1","method":"POST","path":"/interactions/discord/1","headers":[["content-type","application/json"]],"bodyB64":"` + base64.StdEncoding.EncodeToString(body) + `"}}`)
	b.Run("sniff", func(b *testing.B) {
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			if _, _, ok := sniff.Frame(in); !ok {
				b.Fatal("not ok")
			}
		}
	})
	b.Run("DecodeFrame", func(b *testing.B) {
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := wire.DecodeFrame(in); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestFrameStringScanEveryOffset puts each interesting byte at every offset
// of a long string, so the word-at-a-time scan is checked at every
// alignment.
func TestFrameStringScanEveryOffset(t *testing.T) {
	tests := []struct {
		name   string
		insert string
		ok     bool
	}{
		{"Tab", "\t", false},
		{"Unit separator", "\x1f", false},
		{"NUL", "\x00", false},
		{"DEL", "\x7f", true},
		{"HighByte", "\xff", true},
		{"Space", " ", true},
		{"EscapedNewline", `\n`, true},
		{"EscapedQuote", `\"`, true},
		{"Quote", `"`, false},
		{"BadEscape", `\x`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for off := range 24 {
				s := strings.Repeat("A", off) + tt.insert + strings.Repeat("B", 24-off)
				in := []byte(`{"type":"x","s":"` + s + `"}`)
				if _, _, ok := sniff.Frame(in); ok != tt.ok {
					t.Errorf("Frame(%q) ok = %v, want %v", in, ok, tt.ok)
				}
				agree(t, in)
			}
		})
	}
}
