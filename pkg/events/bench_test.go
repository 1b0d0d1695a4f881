package events_test

import (
	"testing"

	"github.com/relaybus/relaybus/pkg/events"
)

func BenchmarkEventMarshalMsgpack(b *testing.B) {
	ev := goldenEvent()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := events.Marshal(ev, events.ContentTypeMsgpack); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEventUnmarshalMsgpack(b *testing.B) {
	data, err := events.Marshal(goldenEvent(), events.ContentTypeMsgpack)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var ev events.MessageEvent
		if err := events.Unmarshal(data, events.ContentTypeMsgpack, &ev); err != nil {
			b.Fatal(err)
		}
	}
}

// benchAction is the golden action_send: a send with metadata.
func benchAction() events.Action {
	return events.Action{
		Op: events.OpSend, ChatID: "645027906669510667", Content: "Found it: **The Gitrog Monster**", ReplyTo: strPtr("786008713424617492"),
		Metadata: map[string]any{"scope_id": "290926798626357999", "guild_id": "290926798626357999", "user_id": "53908232506183680", "profile": "support"},
		Platform: "discord", BotID: "290926444748734465",
	}
}

// benchResult is the golden send_result: a split send.
var benchResult = events.SendResult{Success: true, MessageID: "786008800000000001", ContinuationMessageIDs: []string{"786008800000000002", "786008800000000003"}, ThreadID: "786008800000000000"}

func BenchmarkActionMarshalMsgpack(b *testing.B) {
	a := benchAction()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := events.Marshal(a, events.ContentTypeMsgpack); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkActionDecodeMsgpack(b *testing.B) {
	data, err := events.Marshal(benchAction(), events.ContentTypeMsgpack)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := events.DecodeAction(data, events.ContentTypeMsgpack, events.OpSend); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResultMarshalMsgpack(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := events.Marshal(benchResult, events.ContentTypeMsgpack); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResultUnmarshalMsgpack(b *testing.B) {
	data, err := events.Marshal(benchResult, events.ContentTypeMsgpack)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var r events.SendResult
		if err := events.Unmarshal(data, events.ContentTypeMsgpack, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkActionAppendJSON(b *testing.B) {
	a := events.Action{
		Op: events.OpSend, ChatID: "645027906669510667", Content: "Found it: **The Gitrog Monster**",
		Metadata: map[string]any{"scope_id": "290926798626357999", "guild_id": "290926798626357999", "user_id": "53908232506183680", "profile": "support"},
	}
	b.Run("WithMetadata", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 512)
		for b.Loop() {
			var err error
			if buf, err = a.AppendJSON(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	a.Metadata = nil
	b.Run("NoMetadata", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 512)
		for b.Loop() {
			buf, _ = a.AppendJSON(buf[:0])
		}
	})
}

func BenchmarkSubjectToken(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"Safe", "645027906669510667"},
		{"Escaped", "!room:matrix.example.org"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = events.SubjectToken(bc.in)
			}
		})
	}
	b.Run("InboundMessageSubject", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = events.InboundMessageSubject("discord", "645027906669510667")
		}
	})
}
