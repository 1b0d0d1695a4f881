package events

// White-box: checkMsgpack is an unexported algorithm whose every branch
// (one per MessagePack format) must accept what a real encoder writes.

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

func TestCheckMsgpackAcceptsEveryFormat(t *testing.T) {
	str := func(n int) string { return strings.Repeat("s", n) }
	bin := func(n int) []byte { return bytes.Repeat([]byte{0xb}, n) }
	arr := func(n int) []any { return make([]any, n) }
	obj := func(n int) map[string]any {
		m := make(map[string]any, n)
		for i := range n {
			m["k"+strconv.Itoa(i)] = i
		}
		return m
	}
	values := map[string]any{
		"nil": nil, "false": false, "true": true,
		"posfixint": 5, "negfixint": -5, "uint8": uint8(200), "uint16": uint16(60000), "uint32": uint32(4e9), "uint64": uint64(math.MaxUint64),
		"int8": int8(-100), "int16": int16(-30000), "int32": int32(-2e9), "int64": int64(math.MinInt64),
		"float32": float32(1.5), "float64": 2.25,
		"fixstr0": "", "fixstr31": str(31), "str8": str(255), "str16": str(65535), "str32": str(65536),
		"bin8": bin(255), "bin16": bin(256), "bin32": bin(65536), "bin0": []byte{},
		"fixarray0": arr(0), "fixarray15": arr(15), "array16": arr(16), "array32": arr(65536),
		"fixmap0": obj(0), "fixmap15": obj(15), "map16": obj(16), "map32": obj(65536),
		"time32": time.Unix(1_700_000_000, 0).UTC(), "time64": time.Unix(1_700_000_000, 5).UTC(), "time96": time.Unix(-1, 5).UTC(),
		"nested": map[string]any{"a": []any{map[string]any{"b": []any{1, "x", nil}}}},
	}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			enc := msgpack.NewEncoder(nil)
			var buf bytes.Buffer
			enc.Reset(&buf)
			enc.UseCompactInts(true)
			enc.UseCompactFloats(true)
			if err := enc.Encode(v); err != nil {
				t.Fatal(err)
			}
			checkRoundTrip(t, buf.Bytes())
		})
	}
	// Ext formats the encoder does not write for the values above.
	for name, b := range map[string][]byte{
		"fixext1":  {0xd4, 0x01, 0xaa},
		"fixext2":  {0xd5, 0x01, 0xaa, 0xbb},
		"fixext16": append([]byte{0xd8, 0x01}, bin(16)...),
		"ext8":     append([]byte{0xc7, 0x03, 0x01}, bin(3)...),
		"ext16":    append([]byte{0xc8, 0x01, 0x00, 0x01}, bin(256)...),
		"ext32":    append([]byte{0xc9, 0x00, 0x00, 0x00, 0x02, 0x01}, bin(2)...),
	} {
		t.Run(name, func(t *testing.T) { checkRoundTrip(t, b) })
	}
}

// checkRoundTrip asserts that b is accepted, every strict prefix rejected
// and any trailing byte rejected.
func checkRoundTrip(t *testing.T, b []byte) {
	t.Helper()
	if err := checkMsgpack(b); err != nil {
		t.Fatalf("checkMsgpack(% x...) = %v, want nil", b[:min(len(b), 16)], err)
	}
	for _, n := range []int{0, 1, len(b) / 2, len(b) - 1} {
		if n < len(b) && checkMsgpack(b[:n]) == nil {
			t.Fatalf("checkMsgpack accepted a %d-byte prefix of a %d-byte value", n, len(b))
		}
	}
	if err := checkMsgpack(append(append([]byte{}, b...), 0xc0)); err != errMsgpackTrailing {
		t.Fatalf("checkMsgpack with a trailing byte = %v, want %v", err, errMsgpackTrailing)
	}
}

func TestCheckMsgpackRejects(t *testing.T) {
	deep := func(n int) []byte { return append(bytes.Repeat([]byte{0x91}, n), 0xc0) }
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"Empty", nil, errMsgpackTruncated},
		{"Reserved", []byte{0xc1}, errMsgpackCode},
		{"Array32Huge", []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0}, errMsgpackLength},
		{"Map32Huge", []byte{0xdf, 0x80, 0x00, 0x00, 0x00, 0xc0, 0xc0}, errMsgpackLength},
		{"FixArrayShort", []byte{0x93, 0xc0, 0xc0}, errMsgpackLength},
		{"Str32Huge", []byte{0xdb, 0xff, 0xff, 0xff, 0xff, 'a'}, errMsgpackTruncated},
		{"Bin8Short", []byte{0xc4, 0x05, 1, 2}, errMsgpackTruncated},
		{"Ext32Huge", []byte{0xc9, 0xff, 0xff, 0xff, 0xff, 0x01}, errMsgpackTruncated},
		{"LengthFieldShort", []byte{0xdc, 0x00}, errMsgpackTruncated},
		{"Float64Short", []byte{0xcb, 0, 0, 0}, errMsgpackTruncated},
		{"DepthLimit", deep(msgpackMaxDepth + 1), errMsgpackDepth},
		{"Trailing", []byte{0xc0, 0xc0}, errMsgpackTrailing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkMsgpack(tt.in); got != tt.want {
				t.Fatalf("checkMsgpack(% x) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
	if err := checkMsgpack(deep(msgpackMaxDepth)); err != nil {
		t.Fatalf("checkMsgpack at the depth limit = %v, want nil", err)
	}
}
