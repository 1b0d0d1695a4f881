package wire_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/wire"
)

// twoPass is the reference DecodeForwardFrame must agree with.
func twoPass(b []byte) (wire.PassthroughForward, string, error) {
	f, err := wire.DecodeFrame(b)
	if err != nil {
		return wire.PassthroughForward{}, "", err
	}
	if f.Type != wire.FramePassthroughForward {
		return wire.PassthroughForward{}, "", &events.FrameError{Reason: events.ReasonWrongType, Field: "type"}
	}
	fwd, err := wire.DecodeForward(f.Forward)
	return fwd, f.BufferID, err
}

var forwardFrameSeeds = []string{
	`{"type":"passthrough_forward","bufferId":"b1","forward":{"platform":"discord","botId":"1","method":"POST","path":"/i","headers":[["a","b"],["c"],["d",null]],"bodyB64":"` + base64.StdEncoding.EncodeToString([]byte(`{"id":"1"}`)) + `","profile":"p"}}`,
	`{"type":"passthrough_forward","forward":{"platform":"twilio","bodyB64":""}}`,
	// Bodies Body refuses: on the fast path (no padding, non-zero
	// trailing bits, a character outside the alphabet) and through an
	// escape (a line break; an escaped slash, "Pz/=", whose trailing bits
	// are not zero). One it takes through an escape ("e30=", "{}"), and a
	// body longer than the 32 bytes after which jsonscan.String scans
	// for the string's end with vector scans.
	`{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":"YQ"}}`,
	`{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":"YR=="}}`,
	`{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":"Y*=="}}`,
	`{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":"YQ==\n"}}`,
	`{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":"Pz\/="}}`,
	`{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":"e30\u003d"}}`,
	`{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":"` + base64.StdEncoding.EncodeToString([]byte(`{"id":"1","channel_id":"2","token":"a long one"}`)) + `"}}`,
	`{"type":"passthrough_forward","forward":null}`,
	`{"type":"passthrough_forward"}`,
	`{"type":"passthrough_forward","forward":{"bodyB64":"x"}}`,
	`{"type":"passthrough_forward","forward":{"platform":"discord"}}`,
	`{"type":"passthrough_forward","forward":{"platform":7,"bodyB64":""}}`,
	`{"type":"inbound","forward":{"platform":"discord","bodyB64":""}}`,
	`{"forward":{"platform":"discord","bodyB64":""}}`,
	`[1,2]`, `nope`, ` {"type":"passthrough_forward","forward":{"platform":"d","bodyB64":"","headers":"x"}}`,
	// The fast path's edges: each must agree with the general path, whether
	// the fast path takes it or hands it over.
	" \r\n\t{ \"type\" : \"passthrough_forward\" ,\n\"forward\":{ \"platform\" :\"discord\", \"headers\" : [ [ \"a\" , \"b\" ] ] ,\"bodyB64\":\"\" } } \n",
	`{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":"","headers":[]},"bufferId":"é"}`,
	`{"type":"passthrough_forward","forward":{"platform":"disc\u006frd","bodyB64":""}}`,
	`{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":"a\/b"}}`,
	`{"Type":"passthrough_forward","forward":{"platform":"discord","bodyB64":""}}`,
	`{"type":"passthrough_forward","forward":{"Platform":"discord","bodyB64":""}}`,
	`{"type":"passthrough_forward","type":"inbound","forward":{"platform":"discord","bodyB64":""}}`,
	`{"type":"passthrough_forward","forward":{"platform":"discord","platform":"twilio","bodyB64":""}}`,
	`{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":""},"forward":{"platform":"x","bodyB64":"y"}}`,
	`{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":"","profile":null}}`,
	`{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":"","headers":[["a","b","c"]]}}`,
	`{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":"","headers":[["a",1]]}}`,
	`{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":"","headers":[["a","b"],]}}`,
	`{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":"","headers":null}}`,
	`{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":""},"extra":1}`,
	`{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":""}} x`,
	`{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":""},}`,
	`{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":""}`,
	`{"type":"passthrough_forward","forward":{"platform":"` + "\xff" + `","bodyB64":""}}`,
	`{"type":"passthrough_forward","forward":{"platform":"` + "\x01" + `","bodyB64":""}}`,
	`{"type":"passthrough_forward","forward":{"platform":"","bodyB64":""}}`,
	`{"type":"passthrough_forward","bufferId":"","forward":{"platform":"ü","bodyB64":"AA=="}}`,
	// Found in review: a repeated "forward" must not merge, and the other
	// envelope fields keep their type checks.
	`{"type":"passthrough_forward","forward":{"platform":"a","bodyB64":""},"forward":{"botId":"b"}}`,
	`{"type":"passthrough_forward","forward":{"platform":"p","bodyB64":"","headers":[["a","b"]]},"forward":{"platform":"p","bodyB64":""}}`,
	`{"type":"passthrough_forward","requestId":5,"forward":{"platform":"a","bodyB64":""}}`,
	`{"type":"passthrough_forward","session_key":true,"forward":{"platform":"a","bodyB64":""}}`,
	`{"type":"passthrough_forward","chat_id":{},"forward":{"platform":"a","bodyB64":""}}`,
	`{}`, `{"type":"passthrough_forward"}`, `{"bufferId":"1","forward":{"platform":"discord","bodyB64":""}}`,
	// Case variants (issue #14): ambiguous_key on both paths.
	`{"type":"passthrough_forward","bufferId":"a","BufferID":"b","forward":{"platform":"discord","bodyB64":""}}`,
	`{"type":"passthrough_forward","Type":"descriptor","forward":{"platform":"discord","bodyB64":""}}`,
	`{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":"","bodyb64":"e30="}}`,
	`{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":"","HEADERS":[]}}`,
}

// A connector's real frame (any key order, headers, profile) is read by the
// fast path, not handed to encoding/json.
func TestDecodeForwardFrameFastPathTakesRealFrames(t *testing.T) {
	for _, s := range []string{
		`{"type":"passthrough_forward","bufferId":"b1","forward":{"platform":"discord","botId":"1","method":"POST","path":"/i","headers":[["content-type","application/json"]],"bodyB64":"eyJpZCI6IjEifQ==","profile":"p"}}`,
		`{"bufferId":"42","forward":{"bodyB64":"e30=","profile":"","headers":[],"path":"/interactions","method":"POST","botId":"","platform":"discord"},"type":"passthrough_forward"}`,
	} {
		if _, _, ok := wire.ScanForwardFrame([]byte(s)); !ok {
			t.Errorf("fast path refused %s", s)
		}
		checkForwardFrame(t, []byte(s))
	}
}

func TestDecodeForwardFrameAgreesWithTwoPasses(t *testing.T) {
	for _, s := range forwardFrameSeeds {
		checkForwardFrame(t, []byte(s))
	}
}

func FuzzDecodeForwardFrame(f *testing.F) {
	for _, s := range forwardFrameSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkForwardFrame(t, b) })
}

func checkForwardFrame(t *testing.T, b []byte) {
	t.Helper()
	checkForwardBody(t, b)
	got, gotID, gotErr := wire.DecodeForwardFrame(b)
	want, wantID, wantErr := twoPass(b)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("DecodeForwardFrame(%q) error = %v, two passes = %v", b, gotErr, wantErr)
	}
	if gotErr != nil {
		if !errors.Is(gotErr, events.ErrBadFrame) || events.Reason(gotErr) != events.Reason(wantErr) {
			t.Fatalf("DecodeForwardFrame(%q) reason = %q, two passes = %q", b, events.Reason(gotErr), events.Reason(wantErr))
		}
		return
	}
	if diff := cmp.Diff(want, got); diff != "" || gotID != wantID {
		t.Fatalf("DecodeForwardFrame(%q) differs from two passes (id %q vs %q):\n%s", b, gotID, wantID, diff)
	}
}

// checkForwardBody holds DecodeForwardBody to DecodeForwardFrame followed
// by Body: the same error reason, or the same forward (without its base64)
// and body.
func checkForwardBody(t *testing.T, b []byte) {
	t.Helper()
	got, gotBody, gotErr := wire.DecodeForwardBody(b)
	want, _, wantErr := wire.DecodeForwardFrame(b)
	var wantBody []byte
	if wantErr == nil {
		wantBody, wantErr = want.Body()
	}
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("DecodeForwardBody(%q) error = %v, DecodeForwardFrame and Body = %v", b, gotErr, wantErr)
	}
	if gotErr != nil {
		if !errors.Is(gotErr, events.ErrBadFrame) || gotErr.Error() != wantErr.Error() {
			t.Fatalf("DecodeForwardBody(%q) error = %v, DecodeForwardFrame and Body = %v", b, gotErr, wantErr)
		}
		return
	}
	want.BodyB64 = ""
	if diff := cmp.Diff(want, got); diff != "" || !bytes.Equal(gotBody, wantBody) {
		t.Fatalf("DecodeForwardBody(%q) differs (body %q vs %q):\n%s", b, gotBody, wantBody, diff)
	}
}
