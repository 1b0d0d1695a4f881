package events_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/relaybus/relaybus/pkg/events"
)

// kvKeyRE is the key syntax of NATS KV (nats.go kv.go validKeyRe).
var kvKeyRE = regexp.MustCompile(`^[-/_=.a-zA-Z0-9]+$`)

// tokenTests are shared with FuzzUnSubjectToken as seeds.
var tokenTests = []struct {
	name string
	in   string
	want string
}{
	{"Safe", "chan-1_A", "chan-1_A"},
	{"Snowflake", "645027906669510667", "645027906669510667"},
	{"Empty", "", events.EmptySubjectToken},
	{"Dot", "a.b", "a%2Eb"},
	{"Wildcards", "*>", "%2A%3E"},
	{"Space", "a b", "a%20b"},
	{"Percent", "100%", "100%25"},
	{"Equals", "a=b", "a%3Db"},
	{"Colon", "agent:main", "agent%3Amain"},
	{"NUL", "\x00", "%00"},
	{"UTF8", "é", "%C3%A9"},
	{"InvalidUTF8", "\xff", "%FF"},
	{"Slash", "spaces/x", "spaces%2Fx"},
	{"Negative", "-100123", "-100123"},
	{"TelegramTopic", "-100123:45", "-100123%3A45"},
}

func TestSubjectToken(t *testing.T) {
	for _, tt := range tokenTests {
		t.Run(tt.name, func(t *testing.T) {
			got := events.SubjectToken(tt.in)
			if got != tt.want {
				t.Fatalf("SubjectToken(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if strings.ContainsAny(got, ".*> \t\r\n") || got == "" {
				t.Fatalf("SubjectToken(%q) = %q is not a single subject token", tt.in, got)
			}
			back, ok := events.UnSubjectToken(got)
			if !ok || back != tt.in {
				t.Fatalf("UnSubjectToken(%q) = %q, %v, want %q, true", got, back, ok, tt.in)
			}
			key := events.ScopeKey("discord", tt.in)
			if !kvKeyRE.MatchString(key) {
				t.Fatalf("ScopeKey(discord, %q) = %q is not a valid KV key", tt.in, key)
			}
		})
	}
}

func TestEmptySubjectTokenDistinctFromNUL(t *testing.T) {
	if events.SubjectToken("") == events.SubjectToken("\x00") {
		t.Fatalf("SubjectToken(\"\") == SubjectToken(\"\\x00\") == %q: SubjectToken is not one-to-one", events.SubjectToken(""))
	}
	if events.ScopeKey("discord", "") == events.ScopeKey("discord", "\x00") {
		t.Fatalf("ScopeKey collides for \"\" and NUL")
	}
}

func TestUnSubjectTokenRejects(t *testing.T) {
	for _, tok := range []string{
		"", "a.b", "a b", "*", ">", "%", "%%", "%2", "%2G", "%2e", "%41", "%5F", "a%", "a%4", "%C3%a9", "é", "=",
	} {
		if tok == events.EmptySubjectToken {
			continue
		}
		t.Run(tok, func(t *testing.T) {
			if got, ok := events.UnSubjectToken(tok); ok {
				t.Fatalf("UnSubjectToken(%q) = %q, true; SubjectToken never produces it", tok, got)
			}
		})
	}
}

func TestScopeKey(t *testing.T) {
	tests := []struct {
		platform, chat, want string
	}{
		{"discord", "645027906669510667", "discord.645027906669510667"},
		{"telegram", "-100123", "telegram.-100123"},
		{"slack", "C1.x", "slack.C1=2Ex"},
		{"discord", "", "discord.="},
		{"", "", "=.="},
		{"matrix", "!room:server.org", "matrix.=21room=3Aserver=2Eorg"},
		{"x", "a=b", "x.a=3Db"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			got := events.ScopeKey(tt.platform, tt.chat)
			if got != tt.want {
				t.Fatalf("ScopeKey(%q, %q) = %q, want %q", tt.platform, tt.chat, got, tt.want)
			}
			if !kvKeyRE.MatchString(got) {
				t.Fatalf("ScopeKey(%q, %q) = %q is not a valid KV key", tt.platform, tt.chat, got)
			}
		})
	}
}

func TestDescriptorKey(t *testing.T) {
	for in, want := range map[string]string{"discord": "discord", "": "=", "my.platform": "my=2Eplatform", "a%b": "a=25b"} {
		got := events.DescriptorKey(in)
		if got != want || !kvKeyRE.MatchString(got) {
			t.Errorf("DescriptorKey(%q) = %q, want %q (a valid KV key)", in, got, want)
		}
	}
}

func TestSubjects(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"Raw", events.RawSubject("passthrough_forward"), "relay.raw.passthrough_forward"},
		{"RawUnknownType", events.RawSubject("new.type"), "relay.raw.new%2Etype"},
		{"RawEmptyType", events.RawSubject(""), "relay.raw.%"},
		{"InboundMessage", events.InboundMessageSubject("discord", "645027906669510667"), "relay.inbound.message.discord.645027906669510667"},
		{"InboundMessageUnsafeChat", events.InboundMessageSubject("matrix", "!r:s.org"), "relay.inbound.message.matrix.%21r%3As%2Eorg"},
		{"InboundInterrupt", events.InboundInterruptSubject("telegram", "-5"), "relay.inbound.interrupt.telegram.-5"},
		{"Outbound", events.OutboundSubject(events.OpSend), "relay.outbound.send"},
		{"OutboundFollowUp", events.OutboundSubject(events.OpFollowUp), "relay.outbound.follow_up"},
		{"Results", events.ResultsSubject("act-1"), "relay.results.act-1"},
		{"ResultsUnsafeID", events.ResultsSubject("a.b c"), "relay.results.a%2Eb%20c"},
		{"DLQ", events.DLQSubject(events.StageConverter), "relay.dlq.converter"},
		{"DLQWSEdge", events.DLQSubject(events.StageWSEdge), "relay.dlq.ws-edge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Fatalf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
	// Every built subject falls under its stream's filter.
	for _, s := range []struct{ subject, filter string }{
		{events.RawSubject("inbound"), events.RawSubjects},
		{events.InboundMessageSubject("discord", "1"), events.InboundMessageSubjects},
		{events.InboundInterruptSubject("discord", "1"), events.InboundInterruptSubjects},
		{events.InboundMessageSubject("discord", "1"), events.InboundSubjects},
		{events.OutboundSubject("send"), events.OutboundSubjects},
		{events.DLQSubject("egress"), events.DLQSubjects},
	} {
		if prefix := strings.TrimSuffix(s.filter, ">"); !strings.HasPrefix(s.subject, prefix) {
			t.Errorf("subject %q is not matched by %q", s.subject, s.filter)
		}
	}
}

func TestOps(t *testing.T) {
	for _, op := range []string{"send", "follow_up", "edit", "typing", "get_chat_info", "delete", "react", "interrupt"} {
		if !events.KnownOp(op) {
			t.Errorf("KnownOp(%q) = false, want true", op)
		}
	}
	for _, op := range []string{"", "Send", "pin", "send "} {
		if events.KnownOp(op) {
			t.Errorf("KnownOp(%q) = true, want false", op)
		}
	}
	for op, want := range map[string]bool{
		"send": true, "edit": true, "typing": true, "delete": true, "react": true, "get_chat_info": true,
		"follow_up": false, "interrupt": false, "bogus": false,
	} {
		if got := events.ChatAddressed(op); got != want {
			t.Errorf("ChatAddressed(%q) = %v, want %v", op, got, want)
		}
	}
	for _, op := range events.BusOps {
		if !events.KnownOp(op) {
			t.Errorf("BusOps holds unknown op %q", op)
		}
	}
	for _, op := range events.LegacyOps {
		if !events.KnownOp(op) {
			t.Errorf("LegacyOps holds unknown op %q", op)
		}
	}
}

func TestSubjectTokenBoundsLongIDs(t *testing.T) {
	long := strings.Repeat("x", 5000)
	other := long[:4999] + "y"
	escaped := strings.Repeat("é.", 100) // every byte escaped
	for _, s := range []string{long, other, escaped, strings.Repeat("a", events.MaxSubjectTokenLen+1)} {
		tok := events.SubjectToken(s)
		if len(tok) > events.MaxSubjectTokenLen {
			t.Errorf("SubjectToken(%d bytes) = %d bytes, want <= %d", len(s), len(tok), events.MaxSubjectTokenLen)
		}
		if !strings.Contains(tok, "/") {
			t.Errorf("SubjectToken(%d bytes) = %q, want the shortened form with '/'", len(s), tok)
		}
		if _, ok := events.UnSubjectToken(tok); ok {
			t.Errorf("UnSubjectToken(%q) ok, want false for a shortened token", tok)
		}
		if key := events.ScopeKey("discord", s); !kvKeyRE.MatchString(key) {
			t.Errorf("ScopeKey of a %d-byte chat = %q, not a KV key", len(s), key)
		}
		if subj := events.ResultsSubject(s); len(subj) > 200 {
			t.Errorf("ResultsSubject of a %d-byte id is %d bytes", len(s), len(subj))
		}
	}
	if events.SubjectToken(long) == events.SubjectToken(other) {
		t.Error("two long ids that differ in their last byte share a token")
	}
	// At the limit a safe id stays as it is.
	if s := strings.Repeat("a", events.MaxSubjectTokenLen); events.SubjectToken(s) != s {
		t.Errorf("a %d-byte safe id was changed", events.MaxSubjectTokenLen)
	}
	// The readable prefix never ends inside a %XX escape.
	tok := events.SubjectToken(escaped)
	prefix, _, _ := strings.Cut(tok, "/")
	if i := strings.LastIndexByte(prefix, '%'); i >= 0 && i > len(prefix)-3 {
		t.Errorf("prefix %q ends inside an escape", prefix)
	}
}
