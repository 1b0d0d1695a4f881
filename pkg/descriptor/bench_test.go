package descriptor_test

import (
	"testing"

	"github.com/relaybus/relaybus/pkg/descriptor"
)

var benchDescriptor = []byte(`{"contract_version":1,"platform":"discord","label":"Discord","max_message_length":2000,` +
	`"supports_draft_streaming":false,"supports_edit":true,"supports_threads":true,"markdown_dialect":"discord",` +
	`"len_unit":"chars","emoji":"🎮","platform_hint":"","pii_safe":false,"supports_context":true,` +
	`"supports_block_formatting":false,"supported_ops":["send","edit","typing","follow_up","get_chat_info","delete","react"],` +
	`"supports_inchannel_continuable":false}`)

func BenchmarkDecode(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchDescriptor)))
	for b.Loop() {
		if _, err := descriptor.Decode(benchDescriptor); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalJSON(b *testing.B) {
	d, err := descriptor.Decode(benchDescriptor)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.MarshalJSON(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSplit splits a realistic 5,000-character markdown reply (prose,
// a Go code block straddling the first cut, more prose, a few emoji) at
// 2000 units.
func BenchmarkSplit(b *testing.B) {
	benchPerUnit(b, func(b *testing.B, text, unit string) {
		if got := descriptor.Split(text, 2000, unit, true); len(got) != 3 {
			b.Fatalf("Split = %d chunks, want 3", len(got))
		}
	})
}

func BenchmarkLen(b *testing.B) {
	benchPerUnit(b, func(b *testing.B, text, unit string) {
		if descriptor.Len(text, unit) < 5000 {
			b.Fatal("short")
		}
	})
}

// benchPerUnit runs op on the reply of BenchmarkSplit in a sub-benchmark
// per length unit, reporting allocations and bytes/s.
func benchPerUnit(b *testing.B, op func(b *testing.B, text, unit string)) {
	text, _ := longReply(5000, true)
	for _, unit := range []string{descriptor.UnitChars, descriptor.UnitUTF16} {
		b.Run(unit, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				op(b, text, unit)
			}
		})
	}
}
