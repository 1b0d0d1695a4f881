package redact_test

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/relaybus/relaybus/internal/redact"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/wire/jsonscan"
)

const secret = "tok3nSECRETinteraction0123456789abcdefXYZ"

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestPayload(t *testing.T) {
	body := `{"id":"1","type":2,"token":"` + secret + `","data":{"name":"x"}}`
	tests := []struct {
		name      string
		in        string
		unchanged bool
		keep      []string // substrings that must survive
	}{
		{name: "ForwardObjectBody", in: `{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":"` + b64(body) + `"},"bufferId":"b1"}`, keep: []string{`"bufferId":"b1"`, `"platform":"discord"`}},
		{name: "WrongHeadersType", in: `{"type":"passthrough_forward","forward":{"platform":"discord","headers":"x","bodyB64":"` + b64(body) + `"}}`, keep: []string{`"headers":"x"`}},
		{name: "NumericBufferID", in: `{"type":"passthrough_forward","bufferId":7,"forward":{"platform":"discord","bodyB64":"` + b64(body) + `"}}`, keep: []string{`"bufferId":7`}},
		{name: "ArrayBody", in: `{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":"` + b64("["+body+"]") + `"}}`},
		{name: "NotJSONBody", in: `{"type":"passthrough_forward","forward":{"platform":"slack","bodyB64":"` + b64("token="+secret) + `"}}`, keep: []string{`"bodyB64":""`}},
		{name: "BadBase64Lenient", in: `{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":"` + b64(body)[:8] + "!" + b64(body)[8:] + `"}}`},
		{name: "BadBase64Garbage", in: `{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":"x` + b64(body) + `"}}`, keep: []string{`"bodyB64":""`}},
		{name: "RawBodyNotBase64", in: `{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":` + strings.ReplaceAll(`"`+body+`"`, `"`, `"`) + `}}`},
		{name: "CaseVariantKeys", in: `{"Type":"passthrough_forward","Forward":{"platform":"discord","BODYB64":"` + b64(body) + `"}}`},
		{name: "TopLevelToken", in: `{"op":"send","metadata":{"Token":"` + secret + `"},"chat_id":"c"}`, keep: []string{`"chat_id":"c"`}},
		{name: "CredentialHeaderPair", in: `{"type":"passthrough_forward","forward":{"platform":"twilio","headers":[["content-type","x"],["Authorization","Bearer ` + secret + `"]],"bodyB64":""}}`, keep: []string{`["content-type","x"]`, `["Authorization","[redacted]"]`}},
		{name: "Truncated", in: `{"type":"passthrough_forward","bufferId":"b9","forward":{"platform":"discord","bodyB64":"` + b64(body)[:40], keep: []string{`"bufferId":"b9"`}},
		{name: "EscapedKeyInBrokenJSON", in: `{"type":"x","bufferId":"b9","\u0074oken":"` + secret + `"`, keep: []string{`"bufferId":"b9"`}},
		{name: "ScalarJSONBody", in: `{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":"` + b64(`"token `+secret+`"`) + `"}}`, keep: []string{`"bodyB64":""`}},
		{name: "Clean", in: `{"type":"inbound","event":{"text":"token talk"}}`, unchanged: true},
		{name: "CleanForward", in: `{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":"` + b64(`{"id":"1"}`) + `"}}`, unchanged: true},
		{name: "Msgpack", in: "\x82\xa2op\xa4send\xa5token\xa4abcd", keep: []string{"\x82\xa2op\xa4send"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, notes, _ := redact.Payload([]byte(tt.in))
			if tt.unchanged {
				if string(out) != tt.in || notes != nil {
					t.Fatalf("Payload changed a clean payload: %s %q", out, notes)
				}
				return
			}
			if redact.Holds(out, secret) || strings.Contains(string(out), "abcd") && tt.name == "Msgpack" {
				t.Errorf("secret survived: %s", out)
			}
			if len(notes) == 0 {
				t.Errorf("no notes for a redacted payload")
			}
			for _, n := range notes {
				if redact.Holds([]byte(n), secret) {
					t.Errorf("note holds the secret: %q", n)
				}
			}
			for _, k := range tt.keep {
				if !strings.Contains(string(out), k) {
					t.Errorf("%q lost from %s", k, out)
				}
			}
			if jsonscan.Valid([]byte(tt.in)) && !jsonscan.Valid(out) {
				t.Errorf("valid JSON became invalid: %s", out)
			}
		})
	}
}

func TestHolds(t *testing.T) {
	for off := range 3 {
		enc := b64(strings.Repeat("x", off) + `{"token":"` + secret + `"}`)
		if !redact.Holds([]byte(`{"bodyB64":"`+enc+`"}`), secret) {
			t.Errorf("Holds missed the secret at alignment %d", off)
		}
	}
	if redact.Holds([]byte(`{"a":1}`), secret) {
		t.Error("Holds found a secret that is not there")
	}
}

func TestClip(t *testing.T) {
	if got := redact.Clip("short", 10); got != "short" {
		t.Errorf("Clip = %q", got)
	}
	got := redact.Clip(strings.Repeat("é", 100), 11)
	if !strings.HasPrefix(got, strings.Repeat("é", 5)+"…(+190 bytes)") {
		t.Errorf("Clip = %q", got)
	}
}

func FuzzPayload(f *testing.F) {
	f.Add([]byte(`{"forward":{"bodyB64":"` + b64(`{"token":"`+secret+`"}`) + `"}}`))
	f.Add([]byte(`[{"token":"` + secret + `"}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, _, _ := redact.Payload(b)
		if jsonscan.Valid(b) && !jsonscan.Valid(out) {
			t.Fatalf("valid JSON became invalid: %q -> %q", b, out)
		}
	})
}

func TestMsgpack(t *testing.T) {
	followUp := map[string]any{"op": "follow_up", "session_key": "agent:main:discord:group:c:u", "kind": "discord.interaction_token",
		"content": "done", "metadata": map[string]any{"Token": secret, "keep": "me"}}
	in, err := events.Marshal(followUp, events.ContentTypeMsgpack)
	if err != nil {
		t.Fatal(err)
	}
	out, notes, _ := redact.Msgpack(in)
	if redact.Holds(out, secret) || len(notes) != 1 {
		t.Fatalf("Msgpack kept the secret or noted %q", notes)
	}
	var got map[string]any
	if err := events.Unmarshal(out, events.ContentTypeMsgpack, &got); err != nil {
		t.Fatal(err)
	}
	if got["kind"] != "discord.interaction_token" || got["metadata"].(map[string]any)["keep"] != "me" {
		t.Errorf("Msgpack lost what it should keep: %v", got)
	}
	clean, _ := events.Marshal(map[string]any{"op": "follow_up", "kind": "discord.interaction_token"}, events.ContentTypeMsgpack)
	if out, notes, _ := redact.Msgpack(clean); !bytes.Equal(out, clean) || notes != nil {
		t.Errorf("Msgpack changed a clean action: %q %q", out, notes)
	}
	if out, _, _ := redact.Msgpack([]byte("\x82garbage token " + secret)); redact.Holds(out, secret) {
		t.Errorf("Msgpack kept the secret of an undecodable payload: %q", out)
	}
}
