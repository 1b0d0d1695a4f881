package devconnector

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var splitTests = []struct {
	name          string
	max           int
	messages      []string
	want          []string
	wantOversized int
}{
	{"OneFrame", 100, []string{"a\n"}, []string{"a"}, 0},
	{"SeveralFrames", 100, []string{"a\nb\nc\n"}, []string{"a", "b", "c"}, 0},
	{"SplitFrame", 100, []string{"ab", "cd", "e\nf", "\n"}, []string{"abcde", "f"}, 0},
	{"NoTrailingNewlineWaits", 100, []string{"a\nb"}, []string{"a"}, 0},
	{"BlankAndSpaces", 100, []string{"\n \n\t\r\n a \r\n", "\n"}, []string{"a"}, 0},
	{"EmptyMessages", 100, []string{"", "a", "", "\n"}, []string{"a"}, 0},
	{"OversizedSingleMessage", 4, []string{"abcdefgh\nok\n"}, []string{"ok"}, 1},
	{"OversizedAcrossMessages", 4, []string{"abc", "def", "ghi\nok\n"}, []string{"ok"}, 1},
	{"OversizedPendingThenNewline", 4, []string{"abc", "de\nok\n"}, []string{"ok"}, 1},
	{"ExactlyMax", 4, []string{"ab", "cd\n"}, []string{"abcd"}, 0},
	{"RecoversAfterDiscard", 3, []string{"aaaa", "aaaa", "\nb\n", "c", "\n"}, []string{"b", "c"}, 1},
}

func TestLineSplitter(t *testing.T) {
	for _, tt := range splitTests {
		t.Run(tt.name, func(t *testing.T) {
			sp := lineSplitter{max: tt.max}
			var got []string
			oversized := 0
			for _, m := range tt.messages {
				oversized += sp.feed([]byte(m), func(line []byte) { got = append(got, string(line)) })
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("frames mismatch (-want +got):\n%s", diff)
			}
			if oversized != tt.wantOversized {
				t.Errorf("oversized = %d, want %d", oversized, tt.wantOversized)
			}
		})
	}
}

// FuzzLineSplitter checks that splitting never panics and that, without
// oversized frames, the frames do not depend on how the stream was cut into
// messages.
func FuzzLineSplitter(f *testing.F) {
	for _, tt := range splitTests {
		f.Add(strings.Join(tt.messages, ""), uint8(3))
	}
	f.Fuzz(func(t *testing.T, stream string, cut uint8) {
		whole := lineSplitter{max: 1 << 20}
		var want []string
		whole.feed([]byte(stream), func(l []byte) { want = append(want, string(l)) })

		step := int(cut)%16 + 1
		parts := lineSplitter{max: 1 << 20}
		var got []string
		for i := 0; i < len(stream); i += step {
			parts.feed([]byte(stream[i:min(i+step, len(stream))]), func(l []byte) { got = append(got, string(l)) })
		}
		if !cmp.Equal(want, got) {
			t.Fatalf("frames depend on message boundaries: whole %q, cut every %d %q", want, step, got)
		}
		for _, l := range got {
			if strings.Contains(l, "\n") || len(bytes.TrimSpace([]byte(l))) != len(l) || l == "" {
				t.Fatalf("bad frame %q", l)
			}
		}
	})
}

func TestReplayBuffer(t *testing.T) {
	b := newReplayBuffer(1000)
	for i := range 3000 {
		if b.add(idOf(i), []byte(idOf(i)+"\n")) != (i >= 1000) {
			t.Fatalf("add %d: dropped mismatch", i)
		}
	}
	if b.live() != 1000 || b.dropped != 2000 {
		t.Fatalf("live=%d dropped=%d, want 1000 2000", b.live(), b.dropped)
	}
	// Ack every even one out of order, then the rest in reverse.
	for i := 2998; i >= 2000; i -= 2 {
		if !b.ack(idOf(i)) {
			t.Fatalf("ack %d = false", i)
		}
	}
	if b.ack(idOf(2000)) || b.ack(idOf(5)) || b.unknownAcks != 2 {
		t.Fatalf("duplicate/unknown ack accepted (unknown=%d)", b.unknownAcks)
	}
	out, cursor, more := b.pull(nil, 0, 1<<20)
	if more || strings.Count(string(out), "\n") != 500 || !strings.HasPrefix(string(out), "b2001\nb2003\n") {
		t.Fatalf("pull = %d frames more=%v prefix %q", strings.Count(string(out), "\n"), more, out[:12])
	}
	if out, _, _ := b.pull(nil, cursor, 1<<20); len(out) != 0 {
		t.Fatalf("pull after cursor = %q, want nothing", out)
	}
	if b.replayed != 0 {
		t.Fatalf("replayed = %d, want 0", b.replayed)
	}
	// A bounded pull stops at maxBytes and resumes.
	out, cursor, more = b.pull(nil, 0, 12)
	if string(out) != "b2001\nb2003\n" || !more {
		t.Fatalf("bounded pull = %q more=%v", out, more)
	}
	out, _, _ = b.pull(nil, cursor, 6)
	if string(out) != "b2005\n" || b.replayed != 3 {
		t.Fatalf("resumed pull = %q replayed=%d", out, b.replayed)
	}
	for i := 2999; i >= 2001; i -= 2 {
		b.ack(idOf(i))
	}
	if b.live() != 0 || len(b.entries) != 0 || b.head != 0 {
		t.Fatalf("after acking all: live=%d entries=%d head=%d", b.live(), len(b.entries), b.head)
	}
}

func TestReplayBufferCompactsTombstones(t *testing.T) {
	b := newReplayBuffer(1 << 20)
	b.add("first", []byte("first\n")) // never acked: pins the head
	for i := range 100000 {
		b.add(idOf(i), nil)
		b.ack(idOf(i))
	}
	if len(b.entries) > 4096 {
		t.Fatalf("len(entries) = %d with 1 live frame, want compaction", len(b.entries))
	}
	if out, _, _ := b.pull(nil, 0, 100); string(out) != "first\n" {
		t.Fatalf("pull = %q", out)
	}
}

func idOf(i int) string { return "b" + strconv.Itoa(i) }
