package events_test

import (
	"testing"

	"github.com/relaybus/relaybus/pkg/events"
)

func TestSubjectParts(t *testing.T) {
	tests := []struct{ subject, kind, chat string }{
		{"relay.raw.inbound.telegram%3A-100.7", "inbound", "telegram%3A-100"},
		{"relay.raw.passthrough_forward.discord%3A645.0", "passthrough_forward", "discord%3A645"},
		{"relay.raw.inbound", "inbound", ""},
		{"relay.outbound.send.C1.3", "send", "C1"},
		{"relay.outbound.follow_up", "follow_up", ""},
	}
	for _, tt := range tests {
		if kind, chat := events.SubjectParts(tt.subject); kind != tt.kind || chat != tt.chat {
			t.Errorf("SubjectParts(%q) = %q, %q; want %q, %q", tt.subject, kind, chat, tt.kind, tt.chat)
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
	if pt.Filter(3) != "relay.raw.*.*.3" || pt.Unkeyed != "relay.raw.*" {
		t.Errorf("partition filters %q, %q", pt.Filter(3), pt.Unkeyed)
	}
}
