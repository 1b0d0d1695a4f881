// Package frametest holds the assertions on *events.FrameError that the
// tests of the decoders (pkg/events, pkg/wire) share.
package frametest

import (
	"errors"
	"testing"

	"github.com/relaybus/relaybus/pkg/events"
)

// KnownReasons are the stable reasons a decoder may report.
var KnownReasons = map[string]bool{
	events.ReasonNotJSON: true, events.ReasonNotObject: true, events.ReasonMissingType: true,
	events.ReasonMissingField: true, events.ReasonNullField: true, events.ReasonWrongType: true,
	events.ReasonOversized: true, events.ReasonBadBase64: true, events.ReasonBadBody: true,
	events.ReasonUnsupported: true, events.ReasonUnknownOp: true, events.ReasonBadEncoding: true,
	events.ReasonDeclined: true, events.ReasonOpUnsupported: true, events.ReasonExpired: true,
	events.ReasonAmbiguousKey: true,
}

// CheckFrameErr fails unless err is a *FrameError with a known reason.
func CheckFrameErr(tb testing.TB, call string, err error) {
	tb.Helper()
	var fe *events.FrameError
	if !errors.As(err, &fe) || !KnownReasons[fe.Reason] || !errors.Is(err, events.ErrBadFrame) {
		tb.Fatalf("%s error = %v (%T), want a *FrameError with a known reason", call, err, err)
	}
}

// CheckReason asserts that err is a *FrameError (or nil) with the wanted
// reason and field.
func CheckReason(tb testing.TB, call string, err error, wantReason, wantField string) {
	tb.Helper()
	if wantReason == "" {
		if err != nil {
			tb.Fatalf("%s error = %v, want nil", call, err)
		}
		return
	}
	var fe *events.FrameError
	if !errors.As(err, &fe) {
		tb.Fatalf("%s error = %v (%T), want a *FrameError with reason %s", call, err, err, wantReason)
	}
	if !errors.Is(err, events.ErrBadFrame) {
		tb.Errorf("%s: errors.Is(err, ErrBadFrame) = false", call)
	}
	if fe.Reason != wantReason || fe.Field != wantField {
		tb.Fatalf("%s error = %v, want reason %q field %q (got %q, %q)", call, err, wantReason, wantField, fe.Reason, fe.Field)
	}
	if got := events.Reason(err); got != wantReason {
		tb.Errorf("Reason(%v) = %q, want %q", err, got, wantReason)
	}
}
