package events_test

import (
	"testing"

	"github.com/relaybus/relaybus/pkg/events"
)

func TestSubjectKind(t *testing.T) {
	tests := []struct{ subject, kind string }{
		{"relay.raw.inbound.7", "inbound"},
		{"relay.raw.passthrough_forward.discord%3A645", "passthrough_forward"},
		{"relay.raw.inbound", "inbound"},
		{"relay.outbound.send.3", "send"},
		{"relay.outbound.follow_up", "follow_up"},
	}
	for _, tt := range tests {
		if kind := events.SubjectKind(tt.subject); kind != tt.kind {
			t.Errorf("SubjectKind(%q) = %q, want %q", tt.subject, kind, tt.kind)
		}
	}
}

func TestChatSubjects(t *testing.T) {
	if got, want := events.RawChatSubject("inbound", "slack:C.1"), "relay.raw.inbound.slack%3AC%2E1"; got != want {
		t.Errorf("RawChatSubject = %q, want %q", got, want)
	}
	if got, want := events.OutboundChatSubject("send", "-100"), "relay.outbound.send.-100"; got != want {
		t.Errorf("OutboundChatSubject = %q, want %q", got, want)
	}
	if got, want := events.OutboundChatSubject("send", ""), "relay.outbound.send"; got != want {
		t.Errorf("OutboundChatSubject without chat = %q, want %q", got, want)
	}
	a := events.Action{Op: events.OpFollowUp, SessionKey: "agent:main:discord:group:55"}
	if got := events.ActionChat(&a); got != "55" {
		t.Errorf("ActionChat(follow_up) = %q, want 55", got)
	}
	pt := events.RawPartitions(16)
	if pt.Filter(3) != "relay.raw.*.3" || pt.Unkeyed != "relay.raw.*" || pt.Destination != "relay.raw.{{wildcard(1)}}.{{partition(16,2)}}" {
		t.Errorf("partition filters %q, %q", pt.Filter(3), pt.Unkeyed)
	}
}
