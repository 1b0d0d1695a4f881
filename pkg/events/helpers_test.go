package events_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/relaybus/relaybus/pkg/events"
)

// readFixture returns testdata/<name>.
func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatalf("reading fixture: %v", err)
	}
	return b
}

// checkReason asserts that err is a *FrameError (or nil) with the wanted
// reason and field.
func checkReason(tb testing.TB, call string, err error, wantReason, wantField string) {
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
