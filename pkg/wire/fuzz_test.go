package wire_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/internal/frametest"
	"github.com/relaybus/relaybus/pkg/wire"
)

// checkFrameErr fails unless err is a *FrameError with a known reason.
var checkFrameErr = frametest.CheckFrameErr

// forwardFrame wraps a provider body in a passthrough_forward frame.
func forwardFrame(body []byte) []byte {
	return []byte(`{"type":"passthrough_forward","bufferId":"buf-1","forward":{"platform":"discord","botId":"290926444748734465",` +
		`"method":"POST","path":"/interactions/discord/290926444748734465","headers":[["Content-Type","application/json"],` +
		`["User-Agent","Discord-Interactions/1.0 (+https://discord.com)"]],"bodyB64":"` + base64.StdEncoding.EncodeToString(body) + `"}}`)
}

func FuzzDecodeFrame(f *testing.F) {
	for _, tt := range frameTests {
		f.Add([]byte(tt.in))
	}
	for _, name := range []string{"02_slash_command_options.json", "08_button_click.json", "11_modal_submit.json"} {
		f.Add(forwardFrame(readDiscordFixture(f, name)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := wire.DecodeFrame(data)
		if err != nil {
			checkFrameErr(t, "DecodeFrame", err)
			return
		}
		if fr.Type == "" {
			t.Fatalf("DecodeFrame(%q) accepted a frame without type", data)
		}
		if !json.Valid(data) {
			t.Fatalf("DecodeFrame(%q) accepted invalid JSON", data)
		}
		obj := func(raw json.RawMessage) bool { return len(raw) > 0 && raw[0] == '{' }
		switch fr.Type {
		case wire.FrameInbound:
			if !obj(fr.Event) {
				t.Fatalf("inbound frame accepted with event %q", fr.Event)
			}
		case wire.FramePassthroughForward:
			if !obj(fr.Forward) {
				t.Fatalf("passthrough_forward accepted with forward %q", fr.Forward)
			}
			// The payload decoders never panic on what the envelope let through.
			if fw, err := wire.DecodeForward(fr.Forward); err == nil {
				_, _ = fw.Body()
			}
		case wire.FrameDescriptor:
			if !obj(fr.Descriptor) {
				t.Fatalf("descriptor accepted with descriptor %q", fr.Descriptor)
			}
		case wire.FrameOutboundResult:
			if fr.RequestID == "" || !obj(fr.Result) {
				t.Fatalf("outbound_result accepted with requestId %q result %q", fr.RequestID, fr.Result)
			}
			if _, err := events.ParseResult(fr.Result); err != nil {
				t.Fatalf("ParseResult(%q) of an accepted result object: %v", fr.Result, err)
			}
		case wire.FrameInterruptInbound:
			if fr.SessionKey == "" {
				t.Fatalf("interrupt_inbound accepted without session_key")
			}
		}
	})
}

func FuzzDecodeForward(f *testing.F) {
	for _, tt := range forwardTests {
		f.Add([]byte(tt.in))
	}
	for _, tt := range bodyTests {
		b, _ := json.Marshal(map[string]any{"platform": "discord", "bodyB64": tt.in})
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fw, err := wire.DecodeForward(data)
		if err != nil {
			checkFrameErr(t, "DecodeForward", err)
			return
		}
		if fw.Platform == "" {
			t.Fatalf("DecodeForward(%q) accepted an empty platform", data)
		}
		checkBody(t, fw)
	})
}

func FuzzForwardBody(f *testing.F) {
	for _, tt := range bodyTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, b64 string) {
		checkBody(t, wire.PassthroughForward{BodyB64: b64})
	})
}

// checkBody asserts that Body is strict: what it accepts is exactly the
// canonical standard base64 of the bytes it returns.
func checkBody(t *testing.T, fw wire.PassthroughForward) {
	t.Helper()
	body, err := fw.Body()
	if err != nil {
		checkFrameErr(t, "Body", err)
		if events.Reason(err) != events.ReasonBadBase64 {
			t.Fatalf("Body(%q) reason = %q, want bad_base64", fw.BodyB64, events.Reason(err))
		}
		return
	}
	if got := base64.StdEncoding.EncodeToString(body); got != fw.BodyB64 {
		t.Fatalf("Body(%q) accepted a non-canonical encoding (canonical %q)", fw.BodyB64, got)
	}
}

// eventOpts compares events after an encode → decode trip, where an empty
// slice or map may come back nil.
var eventOpts = cmpopts.EquateEmpty()

func FuzzDecodeInboundEvent(f *testing.F) {
	for _, tt := range inboundTests {
		f.Add([]byte(tt.in))
	}
	// The golden MessageEvents of the bus contract.
	golden, _ := filepath.Glob(filepath.Join("..", "events", "testdata", "message_event*.golden.json"))
	if len(golden) == 0 {
		f.Fatal("no golden MessageEvents in ../events/testdata")
	}
	for _, name := range golden {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := wire.DecodeInboundEvent(data)
		if err != nil {
			checkFrameErr(t, "DecodeInboundEvent", err)
			return
		}
		// Normalized, and Normalize is idempotent.
		again := ev
		again.Normalize()
		if diff := cmp.Diff(ev, again, eventOpts); diff != "" {
			t.Fatalf("Normalize is not idempotent (-first +second):\n%s", diff)
		}
		if ev.SessionKey == "" || ev.Source.Platform == "" || ev.Source.ChatType == "" || ev.Source.ScopeID != ev.Source.GuildID {
			t.Fatalf("DecodeInboundEvent(%q) = %+v, not normalized", data, ev)
		}
		// Encode → decode gives the same event, in both encodings.
		js, err := events.Marshal(ev, events.ContentTypeJSON)
		if err != nil {
			t.Fatalf("Marshal(JSON): %v", err)
		}
		back, err := wire.DecodeInboundEvent(js)
		if err != nil {
			t.Fatalf("DecodeInboundEvent(Marshal(JSON)) error = %v for %s", err, js)
		}
		if diff := cmp.Diff(ev, back, eventOpts); diff != "" {
			t.Fatalf("JSON round trip mismatch (-want +got):\n%s", diff)
		}
		mp, err := events.Marshal(ev, events.ContentTypeMsgpack)
		if err != nil {
			t.Fatalf("Marshal(msgpack): %v", err)
		}
		var mback events.MessageEvent
		if err := events.Unmarshal(mp, events.ContentTypeMsgpack, &mback); err != nil {
			t.Fatalf("Unmarshal(Marshal(msgpack)) error = %v", err)
		}
		if diff := cmp.Diff(ev, mback, eventOpts); diff != "" {
			t.Fatalf("msgpack round trip mismatch (-want +got):\n%s", diff)
		}
	})
}

func FuzzVerifyToken(f *testing.F) {
	secrets := map[string]string{vectorID: vectorSecret, "gw:colon": "s2", "": "empty-id-secret"}
	lookup := func(id string) (string, bool) { s, ok := secrets[id]; return s, ok }
	f.Add(vectorToken, int64(0))
	f.Add(wire.MintToken(vectorID, vectorSecret, 1_700_000_300), int64(1_700_000_000))
	f.Add(wire.MintToken(vectorID, vectorSecret, 1_700_000_300), int64(1_800_000_000))
	f.Add(wire.MintToken("gw:colon", "s2", 5), int64(1))
	f.Add(wire.MintToken("", "empty-id-secret", 0), int64(1))
	f.Add("", int64(0))
	f.Add("!!!", int64(0))
	f.Fuzz(func(t *testing.T, token string, now int64) {
		id, exp, err := wire.VerifyToken(token, lookup, time.Unix(now, 0))
		switch {
		case err == nil, errors.Is(err, wire.ErrTokenExpired):
			// Only a token minted with the right secret verifies, and only in
			// the exact form MintToken produces.
			if got := wire.MintToken(id, secrets[id], exp); got != token {
				t.Fatalf("VerifyToken(%q) accepted (%q, %d), but MintToken gives %q", token, id, exp, got)
			}
			if (err != nil) != (exp != 0 && now > exp) {
				t.Fatalf("VerifyToken(%q, now=%d) exp=%d error = %v", token, now, exp, err)
			}
		case errors.Is(err, wire.ErrBadToken):
			if id != "" || exp != 0 {
				t.Fatalf("VerifyToken(%q) failed but returned (%q, %d)", token, id, exp)
			}
		default:
			t.Fatalf("VerifyToken(%q) error = %v, want ErrBadToken or ErrTokenExpired", token, err)
		}
	})
}

func FuzzDialURL(f *testing.F) {
	for _, tt := range dialURLTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, base string) {
		got, err := wire.DialURL(base)
		if err != nil {
			if !errors.Is(err, wire.ErrBadURL) {
				t.Fatalf("DialURL(%q) error = %v, want ErrBadURL", base, err)
			}
			return
		}
		if !strings.HasSuffix(got, "/relay") || strings.ContainsAny(got, "?#") {
			t.Fatalf("DialURL(%q) = %q", base, got)
		}
		if scheme, _, _ := strings.Cut(strings.ToLower(got), "://"); scheme != "ws" && scheme != "wss" {
			t.Fatalf("DialURL(%q) = %q has scheme %q", base, got, scheme)
		}
		if again, err := wire.DialURL(got); err != nil || again != got {
			t.Fatalf("DialURL(DialURL(%q)) = %q, %v, want %q", base, again, err, got)
		}
	})
}
