package descriptor_test

import (
	"flag"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/relaybus/relaybus/pkg/descriptor"
	goldenfiles "github.com/relaybus/relaybus/pkg/internal/golden"
)

// golden are the golden files in testdata.
var golden = goldenfiles.Files{
	Update:   flag.Bool("update", false, "rewrite testdata/*.golden.json from the current output"),
	Hint:     "regenerate with go test ./descriptor -update",
	Mismatch: "mismatch",
}

// ink returns the non-whitespace characters of s, in order.
func ink(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

// isFenceLine reports whether a line of a chunk is a ``` fence line.
func isFenceLine(line string) bool {
	return strings.HasPrefix(strings.TrimSpace(line), "```")
}

// isClosingLine reports whether a line holds nothing but three or more
// backticks (around whitespace).
func isClosingLine(line string) bool {
	t := strings.TrimSpace(line)
	return len(t) >= 3 && strings.Trim(t, "`") == ""
}

// fencesBalanced reports whether every code block opened in chunk is closed
// in it (the simple fences the random texts use: an opening line starts with
// ```, a closing line is only backticks).
func fencesBalanced(chunk string) bool {
	open := false
	for line := range strings.Lines(chunk) {
		switch {
		case !open && isFenceLine(line):
			open = true
		case open && isClosingLine(line):
			open = false
		}
	}
	return !open
}

// preservesInk reports whether the chunks hold exactly the non-whitespace
// characters of text, in order, once fence lines Split may have added are
// taken out: a first line that opens a fence (a reopened block) and a last
// line of backticks (a closed block). Whether such a line was added or is
// the input's own is ambiguous, so every reading is tried.
func preservesInk(text string, chunks []string) bool {
	want := ink(text)
	type variant = []string
	variants := make([]variant, len(chunks))
	for i, c := range chunks {
		full := ink(c)
		vs := variant{full}
		first, rest, hasNL := strings.Cut(c, "\n")
		dropFirst := i > 0 && hasNL && isFenceLine(first)
		if dropFirst {
			vs = append(vs, ink(rest))
		}
		if j := strings.LastIndexByte(c, '\n'); j >= 0 && isClosingLine(c[j+1:]) {
			vs = append(vs, ink(c[:j]))
			if dropFirst && len(first) < j {
				vs = append(vs, ink(c[len(first)+1:j]))
			} else if dropFirst {
				vs = append(vs, "") // "```go\n```"
			}
		}
		variants[i] = vs
	}
	memo := map[[2]int]bool{}
	var match func(i, off int) bool
	match = func(i, off int) bool {
		if i == len(chunks) {
			return off == len(want)
		}
		key := [2]int{i, off}
		if v, ok := memo[key]; ok {
			return v
		}
		ok := false
		for _, v := range variants[i] {
			if strings.HasPrefix(want[off:], v) && match(i+1, off+len(v)) {
				ok = true
				break
			}
		}
		memo[key] = ok
		return ok
	}
	return match(0, 0)
}

// checkChunks asserts the invariants every Split result has.
func checkChunks(tb testing.TB, text string, max int, unit string, chunks []string) {
	tb.Helper()
	if max < descriptor.MinSplitMax {
		max = descriptor.MinSplitMax
	}
	if text == "" {
		if chunks != nil {
			tb.Fatalf("Split(%q) = %q, want nil", text, chunks)
		}
		return
	}
	if descriptor.Len(text, unit) <= max {
		if len(chunks) != 1 || chunks[0] != text {
			tb.Fatalf("Split(%q, %d, %q) = %q, want the text itself", text, max, unit, chunks)
		}
		return
	}
	for i, c := range chunks {
		if n := descriptor.Len(c, unit); n > max {
			tb.Errorf("chunk %d has %d %s units, limit %d: %q", i, n, unit, max, c)
		}
		if strings.TrimSpace(c) == "" {
			tb.Errorf("chunk %d is blank: %q", i, c)
		}
		if !utf8.ValidString(c) && utf8.ValidString(text) {
			tb.Errorf("chunk %d is not valid UTF-8: %q", i, c)
		}
	}
	if !preservesInk(text, chunks) {
		tb.Errorf("chunks of %q lose or reorder content: %q", text, chunks)
	}
}
