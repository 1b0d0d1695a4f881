package wire_test

import (
	"testing"

	"github.com/relaybus/relaybus/pkg/wire"
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
			if _, err := wire.DecodeFrame(frame); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("EnvelopeForwardBody", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			f, err := wire.DecodeFrame(frame)
			if err != nil {
				b.Fatal(err)
			}
			fw, err := wire.DecodeForward(f.Forward)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := fw.Body(); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The converter's path: envelope, forward and body in one call.
	b.Run("ForwardBody", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			if _, _, err := wire.DecodeForwardBody(frame); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Envelope and forward in one call, then the body.
	b.Run("ForwardFrameBody", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			fw, _, err := wire.DecodeForwardFrame(frame)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := fw.Body(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkMintToken(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = wire.MintToken(vectorID, vectorSecret, 1_700_000_300)
	}
}
