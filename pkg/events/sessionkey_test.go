package events_test

import (
	"testing"

	"github.com/relaybus/relaybus/pkg/events"
)

func TestSessionKey(t *testing.T) {
	group := events.SessionSource{Platform: "discord", ChatID: "chan1", ChatType: events.ChatGroup, UserID: "u1"}
	thread := events.SessionSource{Platform: "discord", ChatID: "th1", ChatType: events.ChatThread, ThreadID: "th1", UserID: "u1"}
	with := func(s events.SessionSource, f func(*events.SessionSource)) events.SessionSource { f(&s); return s }
	tests := []struct {
		name string
		src  events.SessionSource
		opt  events.SessionKeyOptions
		want string
	}{
		// The contract's examples (§4).
		{"DiscordGroup", group, events.SessionKeyOptions{}, "agent:main:discord:group:chan1:u1"},
		{"DiscordThread", thread, events.SessionKeyOptions{}, "agent:main:discord:thread:th1:th1"},
		{"TelegramDM", events.SessionSource{Platform: "telegram", ChatID: "5", ChatType: events.ChatDM, UserID: "5"}, events.SessionKeyOptions{}, "agent:main:telegram:dm:5"},

		// Profiles.
		{"Profile", with(group, func(s *events.SessionSource) { s.Profile = "support" }), events.SessionKeyOptions{}, "agent:support:discord:group:chan1:u1"},
		{"ProfileMain", with(group, func(s *events.SessionSource) { s.Profile = "main" }), events.SessionKeyOptions{}, "agent:main~:discord:group:chan1:u1"},
		{"ProfileDefaultIsMain", with(group, func(s *events.SessionSource) { s.Profile = "default" }), events.SessionKeyOptions{}, "agent:main:discord:group:chan1:u1"},
		{"ProfileDM", events.SessionSource{Platform: "telegram", ChatID: "5", ChatType: events.ChatDM, Profile: "sales"}, events.SessionKeyOptions{}, "agent:sales:telegram:dm:5"},

		// DMs.
		{"DMWithThread", events.SessionSource{Platform: "telegram", ChatID: "5", ChatType: events.ChatDM, ThreadID: "77", UserID: "5"}, events.SessionKeyOptions{}, "agent:main:telegram:dm:5:77"},
		{"DMNeverIsolatesByUser", events.SessionSource{Platform: "slack", ChatID: "D1", ChatType: events.ChatDM, UserID: "U9", UserIDAlt: "alt"}, events.SessionKeyOptions{IsolateThreadUsers: true}, "agent:main:slack:dm:D1"},
		{"DMWithoutChatKeyedOnUser", events.SessionSource{Platform: "signal", ChatType: events.ChatDM, UserID: "u1", UserIDAlt: "uuid-1"}, events.SessionKeyOptions{}, "agent:main:signal:dm:uuid-1"},
		{"DMWithoutChatUserBeforeThread", events.SessionSource{Platform: "signal", ChatType: events.ChatDM, UserID: "u1", ThreadID: "t"}, events.SessionKeyOptions{}, "agent:main:signal:dm:u1:t"},
		{"DMWithoutChatOrUser", events.SessionSource{Platform: "signal", ChatType: events.ChatDM}, events.SessionKeyOptions{}, "agent:main:signal:dm"},
		{"EmptySourceDefaults", events.SessionSource{}, events.SessionKeyOptions{}, "agent:main:relay:dm"},

		// Per-user isolation.
		{"UserIDAltPreferred", with(group, func(s *events.SessionSource) { s.UserIDAlt = "alt1" }), events.SessionKeyOptions{}, "agent:main:discord:group:chan1:alt1"},
		{"GroupWithoutUser", with(group, func(s *events.SessionSource) { s.UserID = "" }), events.SessionKeyOptions{}, "agent:main:discord:group:chan1"},
		{"SharedGroups", group, events.SessionKeyOptions{SharedGroups: true}, "agent:main:discord:group:chan1"},
		{"Channel", with(group, func(s *events.SessionSource) { s.ChatType = events.ChatChannel }), events.SessionKeyOptions{}, "agent:main:discord:channel:chan1:u1"},
		{"GroupThreadSharedByDefault", with(group, func(s *events.SessionSource) { s.ThreadID = "t9" }), events.SessionKeyOptions{}, "agent:main:discord:group:chan1:t9"},
		{"IsolateThreadUsers", thread, events.SessionKeyOptions{IsolateThreadUsers: true}, "agent:main:discord:thread:th1:th1:u1"},
		{"IsolateThreadUsersAlt", with(thread, func(s *events.SessionSource) { s.UserIDAlt = "alt1" }), events.SessionKeyOptions{IsolateThreadUsers: true}, "agent:main:discord:thread:th1:th1:alt1"},
		{"SharedGroupsWinsInThreads", thread, events.SessionKeyOptions{SharedGroups: true, IsolateThreadUsers: true}, "agent:main:discord:thread:th1:th1"},
		{"GroupWithoutChatID", with(group, func(s *events.SessionSource) { s.ChatID = "" }), events.SessionKeyOptions{}, "agent:main:discord:group:u1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := events.SessionKey(tt.src, tt.opt); got != tt.want {
				t.Fatalf("SessionKey(%+v, %+v) = %q, want %q", tt.src, tt.opt, got, tt.want)
			}
		})
	}
}

func TestCommand(t *testing.T) {
	tests := []struct {
		text     string
		isCmd    bool
		name     string
		wantArgs string
	}{
		{"/new", true, "new", ""},
		{"/model gpt-x", true, "model", "gpt-x"},
		{"/skill run deploy", true, "skill", "run deploy"},
		{"  /Stop", true, "stop", ""},
		{"/MODEL@HermesBot gpt-x", true, "model", "gpt-x"},
		{"/model@bot", true, "model", ""},
		{"/model   a  b ", true, "model", "a  b "},
		{"/model\tx", true, "model", "x"},
		{"\n/start payload", true, "start", "payload"},
		{"\u00a0/start", true, "start", ""},
		{"/", true, "", ""},
		{"/ x", true, "", "x"},
		{"/@bot", true, "", ""},
		{"/ÉTAT", true, "état", ""},
		{"hello /new", false, "", ""},
		{"", false, "", ""},
		{"\\/new", false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			if got := events.IsCommand(tt.text); got != tt.isCmd {
				t.Errorf("IsCommand(%q) = %v, want %v", tt.text, got, tt.isCmd)
			}
			if got := events.CommandName(tt.text); got != tt.name {
				t.Errorf("CommandName(%q) = %q, want %q", tt.text, got, tt.name)
			}
			if got := events.CommandArgs(tt.text); got != tt.wantArgs {
				t.Errorf("CommandArgs(%q) = %q, want %q", tt.text, got, tt.wantArgs)
			}
		})
	}
}

func TestSessionChat(t *testing.T) {
	for _, tt := range []struct {
		key, platform, chat string
		ok                  bool
	}{
		{"agent:main:discord:group:chan1:u1", "discord", "chan1", true},
		{"agent:main:telegram:dm:5", "telegram", "5", true},
		{"agent:support:discord:thread:th1:th1", "discord", "th1", true},
		{"agent:main:slack:dm", "slack", "", true},
		{"session-1", "", "", false},
		{"agent:main::dm:5", "", "", false},
	} {
		p, c, ok := events.SessionChat(tt.key)
		if p != tt.platform || c != tt.chat || ok != tt.ok {
			t.Errorf("SessionChat(%q) = %q, %q, %v; want %q, %q, %v", tt.key, p, c, ok, tt.platform, tt.chat, tt.ok)
		}
	}
	// Round trip with the builder.
	src := events.SessionSource{Platform: "telegram", ChatID: "-100123", ChatType: events.ChatGroup, UserID: "u9"}
	if p, c, _ := events.SessionChat(events.SessionKey(src, events.SessionKeyOptions{})); p != "telegram" || c != "-100123" {
		t.Errorf("SessionChat(SessionKey(%+v)) = %q, %q", src, p, c)
	}
}
