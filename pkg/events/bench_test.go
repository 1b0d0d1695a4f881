package events_test

import (
	"testing"

	"github.com/relaybus/relaybus/pkg/events"
)

// BenchmarkDecodeFrame decodes a realistic passthrough_forward frame: the
// Discord slash command fixture, base64 in bodyB64, as ws-edge and the
// converter see it.
func BenchmarkDecodeFrame(b *testing.B) {
	frame := forwardFrame(readDiscordFixture(b, "02_slash_command_options.json"))
	b.Run("Envelope", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			if _, err := events.DecodeFrame(frame); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("EnvelopeForwardBody", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			f, err := events.DecodeFrame(frame)
			if err != nil {
				b.Fatal(err)
			}
			fw, err := events.DecodeForward(f.Forward)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := fw.Body(); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The converter's path: envelope and forward in one call.
	b.Run("ForwardFrameBody", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			fw, _, err := events.DecodeForwardFrame(frame)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := fw.Body(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

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

func BenchmarkToken(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"Safe", "645027906669510667"},
		{"Escaped", "!room:matrix.example.org"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = events.Token(bc.in)
			}
		})
	}
	b.Run("InboundMessageSubject", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = events.InboundMessageSubject("discord", "645027906669510667")
		}
	})
	b.Run("MintToken", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = events.MintToken(vectorID, vectorSecret, 1_700_000_300)
		}
	})
}
