package events_test

import (
	"encoding/base64"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/relaybus/relaybus/pkg/events"
)

// twoPass is the reference DecodeForwardFrame must agree with.
func twoPass(b []byte) (events.PassthroughForward, string, error) {
	f, err := events.DecodeFrame(b)
	if err != nil {
		return events.PassthroughForward{}, "", err
	}
	if f.Type != events.FramePassthroughForward {
		return events.PassthroughForward{}, "", &events.FrameError{Reason: events.ReasonWrongType, Field: "type"}
	}
	fwd, err := events.DecodeForward(f.Forward)
	return fwd, f.BufferID, err
}

var forwardFrameSeeds = []string{
	`{"type":"passthrough_forward","bufferId":"b1","forward":{"platform":"discord","botId":"1","method":"POST","path":"/i","headers":[["a","b"],["c"],["d",null]],"bodyB64":"` + base64.StdEncoding.EncodeToString([]byte(`{"id":"1"}`)) + `","profile":"p"}}`,
	`{"type":"passthrough_forward","forward":{"platform":"twilio","bodyB64":""}}`,
	`{"type":"passthrough_forward","forward":null}`,
	`{"type":"passthrough_forward"}`,
	`{"type":"passthrough_forward","forward":{"bodyB64":"x"}}`,
	`{"type":"passthrough_forward","forward":{"platform":"discord"}}`,
	`{"type":"passthrough_forward","forward":{"platform":7,"bodyB64":""}}`,
	`{"type":"inbound","forward":{"platform":"discord","bodyB64":""}}`,
	`{"forward":{"platform":"discord","bodyB64":""}}`,
	`[1,2]`, `nope`, ` {"type":"passthrough_forward","forward":{"platform":"d","bodyB64":"","headers":"x"}}`,
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
	got, gotID, gotErr := events.DecodeForwardFrame(b)
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
