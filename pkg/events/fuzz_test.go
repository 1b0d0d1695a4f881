package events_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/internal/frametest"
)

// checkFrameErr fails unless err is a *FrameError with a known reason.
var checkFrameErr = frametest.CheckFrameErr

// eventOpts compares events after an encode → decode trip, where an empty
// slice or map may come back nil.
var eventOpts = cmpopts.EquateEmpty()

func FuzzUnmarshalEventMsgpack(f *testing.F) {
	for _, tc := range goldenCases() {
		if ev, ok := tc.v.(events.MessageEvent); ok {
			b, _ := events.Marshal(ev, events.ContentTypeMsgpack)
			f.Add(b)
		}
	}
	f.Add([]byte{0x81, 0xa5, 'm', 'e', 'd', 'i', 'a', 0xdd, 0x7f, 0xff, 0xff, 0xff, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		var ev events.MessageEvent
		if err := events.Unmarshal(data, events.ContentTypeMsgpack, &ev); err != nil {
			checkFrameErr(t, "Unmarshal", err)
			return
		}
		mp, err := events.Marshal(ev, events.ContentTypeMsgpack)
		if err != nil {
			t.Fatalf("Marshal(msgpack): %v", err)
		}
		var back events.MessageEvent
		if err := events.Unmarshal(mp, events.ContentTypeMsgpack, &back); err != nil {
			t.Fatalf("Unmarshal(Marshal(msgpack)) error = %v", err)
		}
		if diff := cmp.Diff(ev, back, eventOpts); diff != "" {
			t.Fatalf("msgpack round trip mismatch (-want +got):\n%s", diff)
		}
	})
}

// fuzzContentTypes are the content types FuzzDecodeAction picks from.
var fuzzContentTypes = []string{events.ContentTypeJSON, events.ContentTypeMsgpack, "", "text/plain"}

func FuzzDecodeAction(f *testing.F) {
	for _, tt := range actionTests {
		f.Add([]byte(tt.in), uint8(0), tt.subjectOp)
		f.Add(jsonToMsgpack(f, tt.in), uint8(1), tt.subjectOp)
	}
	f.Add([]byte{0x81, 0xa8, 'm', 'e', 't', 'a', 'd', 'a', 't', 'a', 0x81, 0xa1, 'a', 0xdd, 0xff, 0xff, 0xff, 0xff}, uint8(1), "send")
	f.Fuzz(func(t *testing.T, data []byte, ct uint8, subjectOp string) {
		contentType := fuzzContentTypes[int(ct)%len(fuzzContentTypes)]
		a, err := events.DecodeAction(data, contentType, subjectOp)
		if err != nil {
			var ae *events.ActionError
			if !errors.As(err, &ae) || !frametest.KnownReasons[ae.Reason] || !errors.Is(err, events.ErrBadAction) {
				t.Fatalf("DecodeAction error = %v (%T), want an *ActionError with a known reason", err, err)
			}
			return
		}
		if !events.KnownOp(a.Op) || a.Validate() != nil {
			t.Fatalf("DecodeAction accepted an invalid action %+v", a)
		}
		b1, err := a.AppendJSON(nil)
		if err != nil {
			// Only metadata that JSON cannot hold (NaN, ±Inf from msgpack).
			if events.Reason(err) != events.ReasonWrongType {
				t.Fatalf("AppendJSON(%+v) error = %v", a, err)
			}
			return
		}
		// The contract JSON decodes back to an action that writes the same
		// JSON (after one trip: JSON numbers are float64).
		a2, err := events.DecodeAction(b1, events.ContentTypeJSON, "")
		if err != nil {
			t.Fatalf("DecodeAction(AppendJSON) error = %v for %s", err, b1)
		}
		b2, _ := a2.AppendJSON(nil)
		a3, err := events.DecodeAction(b2, events.ContentTypeJSON, "")
		if err != nil {
			t.Fatalf("DecodeAction(AppendJSON²) error = %v for %s", err, b2)
		}
		if b3, _ := a3.AppendJSON(nil); string(b3) != string(b2) {
			t.Fatalf("AppendJSON not stable:\n%s\n%s", b2, b3)
		}
		// The bus encoding (msgpack) round-trips to the same contract JSON.
		mp, err := events.Marshal(a, events.ContentTypeMsgpack)
		if err != nil {
			t.Fatalf("Marshal(msgpack): %v", err)
		}
		am, err := events.DecodeAction(mp, events.ContentTypeMsgpack, "")
		if err != nil {
			t.Fatalf("DecodeAction(Marshal(msgpack)) error = %v", err)
		}
		if bm, _ := am.AppendJSON(nil); string(bm) != string(b1) {
			t.Fatalf("msgpack round trip changed the action:\n%s\n%s", b1, bm)
		}
	})
}

func FuzzParseResult(f *testing.F) {
	for _, tt := range resultTests {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := events.ParseResult(data)
		if err != nil {
			checkFrameErr(t, "ParseResult", err)
			return
		}
		_, _ = r.Declined(), r.Transient()
		js, err := events.Marshal(r, events.ContentTypeJSON)
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", r, err)
		}
		back, err := events.ParseResult(js)
		if err != nil {
			t.Fatalf("ParseResult(Marshal) error = %v for %s", err, js)
		}
		if diff := cmp.Diff(r, back, eventOpts); diff != "" {
			t.Fatalf("ParseResult round trip mismatch (-want +got):\n%s", diff)
		}
	})
}

func FuzzUnSubjectToken(f *testing.F) {
	for _, tt := range tokenTests {
		f.Add(tt.in)
		f.Add(tt.want)
	}
	f.Add("%")
	f.Add("%2e")
	f.Fuzz(func(t *testing.T, s string) {
		// SubjectToken → UnSubjectToken is the identity, and SubjectToken is a single subject token.
		tok := events.SubjectToken(s)
		if tok == "" || strings.ContainsAny(tok, ".*> \t\r\n\x00") {
			t.Fatalf("SubjectToken(%q) = %q is not a subject token", s, tok)
		}
		if len(tok) > events.MaxSubjectTokenLen {
			t.Fatalf("SubjectToken(%q) is %d bytes, over MaxSubjectTokenLen", s, len(tok))
		}
		if strings.Contains(tok, "/") {
			// Shortened: not reversible, but it must be deterministic.
			if again := events.SubjectToken(s); again != tok {
				t.Fatalf("SubjectToken(%q) not deterministic: %q vs %q", s, tok, again)
			}
		} else if back, ok := events.UnSubjectToken(tok); !ok || back != s {
			t.Fatalf("UnSubjectToken(SubjectToken(%q)) = %q, %v", s, back, ok)
		}
		if key := events.ScopeKey("discord", s); !kvKeyRE.MatchString(key) {
			t.Fatalf("ScopeKey(discord, %q) = %q is not a valid KV key", s, key)
		}
		// UnSubjectToken accepts only what SubjectToken produces.
		if back, ok := events.UnSubjectToken(s); ok && events.SubjectToken(back) != s {
			t.Fatalf("UnSubjectToken(%q) = %q, but SubjectToken of that is %q", s, back, events.SubjectToken(back))
		}
	})
}
