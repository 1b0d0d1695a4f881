package events_test

import (
	"errors"
	"testing"

	"github.com/relaybus/relaybus/pkg/events"
)

func TestReasonOfOtherErrors(t *testing.T) {
	if got := events.Reason(errors.New("boom")); got != "internal" {
		t.Fatalf("Reason(plain error) = %q, want internal", got)
	}
	if got := events.Reason(nil); got != "internal" {
		t.Fatalf("Reason(nil) = %q, want internal", got)
	}
}
