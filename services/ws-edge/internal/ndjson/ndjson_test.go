package ndjson_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/relaybus/relaybus/services/ws-edge/internal/ndjson"
)

// recorder collects what a Splitter hands out, copying the slices.
type recorder struct{ got []string }

func (r *recorder) Frame(b []byte) { r.got = append(r.got, string(b)) }
func (r *recorder) Oversized(prefix []byte, size int) {
	r.got = append(r.got, fmt.Sprintf("OVERSIZED(%d):%s", size, prefix))
}

func TestSplitter(t *testing.T) {
	long := strings.Repeat("x", 20)
	tests := []struct {
		name   string
		max    int
		chunks []string
		want   []string
	}{
		{"OneFrame", 100, []string{"{\"a\":1}\n"}, []string{`{"a":1}`}},
		{"ThreeFramesOneChunk", 100, []string{"{}\n[]\n1\n"}, []string{"{}", "[]", "1"}},
		{"SplitAcrossChunks", 100, []string{`{"type":"inb`, `ound"}` + "\n"}, []string{`{"type":"inbound"}`}},
		{"SplitAcrossThreeChunks", 100, []string{`ab`, `cd`, "ef\ngh\n"}, []string{"abcdef", "gh"}},
		{"NoTrailingNewlineIsKept", 100, []string{"{}\n{", "}"}, []string{"{}"}},
		{"BlankLinesSkipped", 100, []string{"\n \n\t\r\n{}\n\n"}, []string{"{}"}},
		{"CRKept", 100, []string{"{}\r\n"}, []string{"{}\r"}},
		{"ExactlyMax", 5, []string{"12345\n"}, []string{"12345"}},
		{"OversizedInOneChunk", 5, []string{"123456\nok\n"}, []string{"OVERSIZED(6):123456", "ok"}},
		{"OversizedAcrossChunks", 5, []string{"123", "456", "789\nok\n"}, []string{"OVERSIZED(9):123456789", "ok"}},
		{"OversizedCarryThenNewline", 5, []string{"1234", "56\nok\n"}, []string{"OVERSIZED(6):123456", "ok"}},
		{"OversizedLongTail", 10, []string{long, long, long + "\n{}\n"}, []string{"OVERSIZED(60):" + long + long + long, "{}"}},
		{"OversizedNeverEnds", 5, []string{"123456", "789"}, nil},
		{"EmptyChunks", 100, []string{"", "{}", "", "\n"}, []string{"{}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ndjson.New(tt.max)
			var r recorder
			for _, c := range tt.chunks {
				s.Feed([]byte(c), &r)
			}
			if diff := cmp.Diff(tt.want, r.got); diff != "" {
				t.Errorf("frames (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSplitterPrefixIsBounded(t *testing.T) {
	s := ndjson.New(10)
	var gotPrefix, gotSize int
	h := handlerFunc{oversized: func(p []byte, n int) { gotPrefix, gotSize = len(p), n }}
	big := bytes.Repeat([]byte("y"), 3*ndjson.PrefixBytes)
	s.Feed(big[:100], h)
	s.Feed(big[100:], h)
	if s.Pending() != len(big) {
		t.Errorf("Pending() = %d, want %d", s.Pending(), len(big))
	}
	s.Feed([]byte("\n"), h)
	if gotPrefix != ndjson.PrefixBytes || gotSize != len(big) {
		t.Errorf("Oversized(prefix %d bytes, size %d), want (%d, %d)", gotPrefix, gotSize, ndjson.PrefixBytes, len(big))
	}
}

func TestSplitterReset(t *testing.T) {
	s := ndjson.New(100)
	var r recorder
	s.Feed([]byte(`{"half`), &r)
	s.Reset()
	s.Feed([]byte("{}\n"), &r)
	if diff := cmp.Diff([]string{"{}"}, r.got); diff != "" {
		t.Errorf("frames after Reset (-want +got):\n%s", diff)
	}
}

type handlerFunc struct {
	frame     func([]byte)
	oversized func([]byte, int)
}

func (h handlerFunc) Frame(b []byte) {
	if h.frame != nil {
		h.frame(b)
	}
}
func (h handlerFunc) Oversized(p []byte, n int) {
	if h.oversized != nil {
		h.oversized(p, n)
	}
}

// FuzzSplitter checks that any way of chunking a stream yields the same frames
// as splitting it at once, and that nothing panics.
func FuzzSplitter(f *testing.F) {
	f.Add([]byte("{}\n[]\n1\n"), uint8(3), uint16(100))
	f.Add([]byte("123456\nok\n"), uint8(2), uint16(5))
	f.Add([]byte("\n \n\t\r\n{}\n\n"), uint8(1), uint16(100))
	f.Fuzz(func(t *testing.T, stream []byte, step uint8, max uint16) {
		if step == 0 {
			step = 1
		}
		whole := ndjson.New(int(max))
		var want recorder
		whole.Feed(stream, &want)
		chunked := ndjson.New(int(max))
		var got recorder
		for i := 0; i < len(stream); i += int(step) {
			chunked.Feed(stream[i:min(i+int(step), len(stream))], &got)
		}
		if diff := cmp.Diff(want.got, got.got); diff != "" {
			t.Errorf("chunked by %d (-whole +chunked):\n%s", step, diff)
		}
	})
}

func BenchmarkSplitter(b *testing.B) {
	frame := []byte(`{"type":"passthrough_forward","bufferId":"b-1","forward":{"platform":"discord","bodyB64":"` + strings.Repeat("QUJD", 600) + `"}}` + "\n")
	msg := bytes.Repeat(frame, 64)
	s := ndjson.New(4 << 20)
	h := handlerFunc{}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		s.Feed(msg[:1000], h)
		s.Feed(msg[1000:], h)
	}
}
