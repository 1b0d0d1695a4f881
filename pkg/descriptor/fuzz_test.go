package descriptor_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/relaybus/relaybus/pkg/descriptor"
)

// FuzzDecode checks that Decode never panics, that every error wraps one of
// the sentinels, that a decoded descriptor is normalized, and that
// decode → encode → decode yields the same value and the same bytes.
func FuzzDecode(f *testing.F) {
	for _, tt := range decodeTests {
		f.Add([]byte(tt.in))
	}
	canon, _ := canonical.MarshalJSON()
	f.Add(canon)
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := descriptor.Decode(raw)
		if err != nil {
			if !errors.Is(err, descriptor.ErrNotObject) && !errors.Is(err, descriptor.ErrMissingKey) && !errors.Is(err, descriptor.ErrBadKey) {
				t.Fatalf("Decode(%q) error %v wraps no sentinel", raw, err)
			}
			return
		}
		if d.MaxMessageLength <= 0 {
			t.Errorf("Decode(%q).MaxMessageLength = %d, want > 0", raw, d.MaxMessageLength)
		}
		if d.SupportedOps != nil && len(d.SupportedOps) == 0 {
			t.Errorf("Decode(%q).SupportedOps is empty but not nil", raw)
		}
		for i, op := range d.SupportedOps {
			if op == "" || op != strings.TrimSpace(op) || slices.Index(d.SupportedOps, op) != i {
				t.Errorf("Decode(%q).SupportedOps = %q: entry %d not trimmed, empty or repeated", raw, d.SupportedOps, i)
			}
		}
		b, err := d.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON() error = %v", err)
		}
		again, err := descriptor.Decode(b)
		if err != nil {
			t.Fatalf("Decode(MarshalJSON()) error = %v for %s", err, b)
		}
		if diff := cmp.Diff(d, again); diff != "" {
			t.Fatalf("round trip mismatch for %q (-first +second):\n%s", raw, diff)
		}
		if b2, _ := again.MarshalJSON(); string(b2) != string(b) {
			t.Fatalf("canonical encoding not stable: %s then %s", b, b2)
		}
	})
}

// FuzzSplit checks that Split never panics, that every chunk fits, and that
// the chunks keep the text's non-whitespace content in order (modulo the
// fence lines Split adds).
func FuzzSplit(f *testing.F) {
	for _, tt := range splitTests {
		f.Add(tt.text, tt.max, tt.unit == descriptor.UnitUTF16, tt.codeBlocks)
	}
	text, _ := longReply(5000, true)
	f.Add(text, 2000, true, true)
	f.Fuzz(func(t *testing.T, text string, max int, utf16, codeBlocks bool) {
		if max > 1<<20 || max < -1<<20 {
			max %= 1 << 20
		}
		unit := descriptor.UnitChars
		if utf16 {
			unit = descriptor.UnitUTF16
		}
		got := descriptor.Split(text, max, unit, codeBlocks)
		checkChunks(t, text, max, unit, got)
	})
}
