package descriptor_test

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/relaybus/relaybus/pkg/descriptor"
)

type splitTest struct {
	name       string
	text       string
	max        int
	unit       string
	codeBlocks bool
	want       []string
}

var (
	x16    = strings.Repeat("x", 16)
	family = "👨\u200d👩\u200d👧" // 5 code points, 8 UTF-16 units
)

// splitTests is the Split table; FuzzSplit seeds from it.
var splitTests = []splitTest{
	{name: "Empty", text: "", max: 20, want: nil},
	{name: "Fits", text: "hello world", max: 20, want: []string{"hello world"}},
	{name: "FitsExactly", text: x16, max: 16, want: []string{x16}},
	{name: "FitsKeepsEdgeWhitespace", text: "  hi there \n", max: 20, want: []string{"  hi there \n"}},
	{name: "Paragraph", text: "aaaa bbbb cccc\n\ndddd eeee ffff", max: 20,
		want: []string{"aaaa bbbb cccc", "dddd eeee ffff"}},
	{name: "ParagraphBeforeLaterLine", text: "aaaa bbbb cc\n\ndd\neeee ffff gggg", max: 20,
		want: []string{"aaaa bbbb cc", "dd\neeee ffff gggg"}},
	{name: "ParagraphBlankLineWithSpaces", text: "aaaa bbbb cccc \n \t\n dddd eeee ffff", max: 20,
		want: []string{"aaaa bbbb cccc", "dddd eeee ffff"}},
	{name: "ShortParagraphYieldsToWords", text: "aa\n\nbbbb cccc dddd eeee ffff", max: 20,
		want: []string{"aa\n\nbbbb cccc dddd", "eeee ffff"}},
	{name: "Line", text: "aaaa bbbb cccc\ndddd eeee ffff", max: 20,
		want: []string{"aaaa bbbb cccc", "dddd eeee ffff"}},
	{name: "LineCRLF", text: "aaaa bbbb cccc\r\ndddd", max: 16,
		want: []string{"aaaa bbbb cccc", "dddd"}},
	{name: "Word", text: "alpha beta gamma delta epsilon zeta", max: 16,
		want: []string{"alpha beta gamma", "delta epsilon", "zeta"}},
	{name: "WordNotAtNoBreakSpace", text: "aaaa\u00a0bbbb\u00a0cccc dddd eeee", max: 16,
		want: []string{"aaaa\u00a0bbbb\u00a0cccc", "dddd eeee"}},
	{name: "HardCut", text: strings.Repeat("x", 40), max: 16,
		want: []string{x16, x16, "xxxxxxxx"}},
	{name: "HardCutOnlyTheLongWord", text: "ab " + strings.Repeat("x", 40), max: 16,
		want: []string{"ab", x16, x16, "xxxxxxxx"}},
	{name: "MaxRaisedToMinimum", text: "aaaa bbbb cccc dddd", max: 5,
		want: []string{"aaaa bbbb cccc", "dddd"}},
	{name: "BlankTextTooLong", text: strings.Repeat(" \n", 20), max: 16, want: nil},
	{name: "LeadingWhitespaceKept", text: "  aaaa bbbb cccc dddd", max: 16,
		want: []string{"  aaaa bbbb cccc", "dddd"}},

	// Code fences.
	{name: "FenceCloseReopenWithInfo", text: "```go\nline one\nline two\nline three\n```", max: 30, codeBlocks: true,
		want: []string{"```go\nline one\nline two\n```", "```go\nline three\n```"}},
	{name: "FenceKeepsIndentation", text: "```\nfunc f() {\n\treturn 1\n}\n```", max: 20, codeBlocks: true,
		want: []string{"```\nfunc f() {\n```", "```\n\treturn 1\n}\n```"}},
	{name: "FenceNotOpenedAtChunkEnd", text: "intro text here\n```go\ncode code code\n```", max: 24, codeBlocks: true,
		want: []string{"intro text here", "```go\ncode code code\n```"}},
	{name: "FenceCutBeforeBlock", text: "some words here\n\n```sh\nls\n```\nafter", max: 24, codeBlocks: true,
		want: []string{"some words here", "```sh\nls\n```\nafter"}},
	{name: "FenceLongWordHardCut", text: "```\n" + strings.Repeat("y", 30) + "\n```", max: 16, codeBlocks: true,
		want: []string{"```\nyyyyyyyy\n```", "```\nyyyyyyyy\n```", "```\nyyyyyyyy\n```", "```\nyyyyyy\n```"}},
	{name: "FenceLongInfoReopensBare", text: "```python title=\"a long info string\"\nprint(1)\nprint(2)\nprint(3)\n```", max: 40, codeBlocks: true,
		want: []string{"```python title=\"a long info string\"\n```", "```\nprint(1)\nprint(2)\nprint(3)\n```"}},
	{name: "FenceFourBackticks", text: "````md\n```go\nx := 1\n```\nmore text\n````", max: 26, codeBlocks: true,
		want: []string{"````md\n```go\nx := 1\n````", "````md\n```\nmore text\n````"}},
	{name: "FenceIndentedInList", text: "- item\n  ```js\n  let a = 1;\n  let b = 2;\n  ```", max: 34, codeBlocks: true,
		want: []string{"- item\n  ```js\n  let a = 1;\n  ```", "  ```js\n  let b = 2;\n  ```"}},
	{name: "FenceCutAtLineNotBetweenCodeWords", text: "Here is the fix.\n\n```go\nfunc add(a, b int) int {\n\treturn a + b\n}\n```", max: 40, codeBlocks: true,
		want: []string{"Here is the fix.", "```go\nfunc add(a, b int) int {\n```", "```go\n\treturn a + b\n}\n```"}},
	{name: "FenceCodeLineLongerThanMax", text: "```\naaaa bbbb cccc dddd eeee\n```", max: 16, codeBlocks: true,
		want: []string{"```\naaaa\n```", "```\nbbbb\n```", "```\ncccc\n```", "```\ndddd\n```", "```\neeee\n```"}},
	{name: "FenceIgnoredWithoutCodeBlocks", text: "```go\nline one\nline two\nline three\n```", max: 30,
		want: []string{"```go\nline one\nline two", "line three\n```"}},
	{name: "InlineTripleBackticksNoFence", text: "use ```x``` here and there too", max: 16, codeBlocks: true,
		want: []string{"use ```x``` here", "and there too"}},

	// Length units and clusters at the boundary.
	{name: "UTF16EmojiAtBoundary", text: strings.Repeat("a", 15) + "🎉b", max: 16, unit: "utf16",
		want: []string{strings.Repeat("a", 15), "🎉b"}},
	{name: "CharsEmojiAtBoundary", text: strings.Repeat("a", 15) + "🎉b", max: 16, unit: "chars",
		want: []string{strings.Repeat("a", 15) + "🎉", "b"}},
	{name: "UTF16EmojiWords", text: "🎉🎉🎉🎉 🎉🎉🎉🎉 🎉🎉🎉🎉", max: 16, unit: "utf16",
		want: []string{"🎉🎉🎉🎉", "🎉🎉🎉🎉", "🎉🎉🎉🎉"}},
	{name: "CharsEmojiWords", text: "🎉🎉🎉🎉 🎉🎉🎉🎉 🎉🎉🎉🎉 🎉🎉🎉🎉", max: 16, unit: "chars",
		want: []string{"🎉🎉🎉🎉 🎉🎉🎉🎉 🎉🎉🎉🎉", "🎉🎉🎉🎉"}},
	{name: "CombiningMarkAtBoundary", text: strings.Repeat("a", 15) + "e\u0301x", max: 16,
		want: []string{strings.Repeat("a", 15), "e\u0301x"}},
	{name: "EnclosingMarkAtBoundary", text: strings.Repeat("a", 15) + "1\ufe0f\u20e3x", max: 16,
		want: []string{strings.Repeat("a", 15), "1\ufe0f\u20e3x"}},
	{name: "SpacingMarkAtBoundary", text: strings.Repeat("a", 15) + "\u0915\u093fx", max: 16,
		want: []string{strings.Repeat("a", 15), "\u0915\u093fx"}},
	{name: "ZWJSequenceKeptWhole", text: strings.Repeat("a", 12) + family + "b", max: 16,
		want: []string{strings.Repeat("a", 12), family + "b"}},
	{name: "ZWJSequenceUTF16", text: strings.Repeat("a", 10) + family + "b", max: 16, unit: "utf16",
		want: []string{strings.Repeat("a", 10), family + "b"}},
	{name: "SkinToneKept", text: strings.Repeat("a", 15) + "👍🏽b", max: 16,
		want: []string{strings.Repeat("a", 15), "👍🏽b"}},
	{name: "FlagPairsKept", text: strings.Repeat("a", 13) + "🇫🇷🇩🇪b", max: 16,
		want: []string{strings.Repeat("a", 13) + "🇫🇷", "🇩🇪b"}},
	{name: "ClusterLongerThanMax", text: "e" + strings.Repeat("\u0301", 20), max: 16,
		want: []string{"e" + strings.Repeat("\u0301", 15), strings.Repeat("\u0301", 5)}},
	{name: "IndentationDroppedToKeepCluster", text: "```\n\t\t" + family + " x\n```", max: 16, unit: "utf16", codeBlocks: true,
		want: []string{"```\n```", "```\n" + family + "\n```", "```\nx\n```"}},
	{name: "SpaceBeforeCombiningMarkIsNotABreak", text: "aaaa bbbb cccc \u0301dd eeee", max: 16,
		want: []string{"aaaa bbbb", "cccc \u0301dd eeee"}},
}

func TestSplit(t *testing.T) {
	for _, tt := range splitTests {
		t.Run(tt.name, func(t *testing.T) {
			got := descriptor.Split(tt.text, tt.max, tt.unit, tt.codeBlocks)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Split(%q, %d, %q, %v) mismatch (-want +got):\n%s", tt.text, tt.max, tt.unit, tt.codeBlocks, diff)
			}
			checkChunks(t, tt.text, tt.max, tt.unit, got)
			if tt.codeBlocks && fencesBalanced(tt.text) {
				for i, c := range got {
					if !fencesBalanced(c) {
						t.Errorf("chunk %d has unbalanced fences: %q", i, c)
					}
				}
			}
		})
	}
}

func TestDescriptorSplit(t *testing.T) {
	text := "```go\nline one\nline two\nline three\n```"
	tests := []struct {
		name string
		d    descriptor.Descriptor
		want []string
	}{
		{"CodeBlocks", descriptor.Descriptor{MaxMessageLength: 30, MarkdownDialect: "discord"},
			[]string{"```go\nline one\nline two\n```", "```go\nline three\n```"}},
		{"Plain", descriptor.Descriptor{MaxMessageLength: 30, MarkdownDialect: "plain"},
			[]string{"```go\nline one\nline two", "line three\n```"}},
		{"ZeroMaxIs4096", descriptor.Descriptor{}, []string{text}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.d.Split(text)); diff != "" {
				t.Errorf("Split mismatch (-want +got):\n%s", diff)
			}
		})
	}
	d := descriptor.Descriptor{MaxMessageLength: 16, LenUnit: "utf16"}
	if diff := cmp.Diff([]string{strings.Repeat("a", 15), "🎉b"}, d.Split(strings.Repeat("a", 15)+"🎉b")); diff != "" {
		t.Errorf("utf16 Split mismatch (-want +got):\n%s", diff)
	}
}

// longReply builds a realistic markdown reply of exactly n code points:
// prose, a Go code block that straddles the first 2000-unit limit, more
// prose. withEmoji sprinkles astral emoji so that the UTF-16 length differs.
func longReply(n int, withEmoji bool) (text, tail string) {
	var b strings.Builder
	sentence := "The relay splits long replies at paragraph, line and word boundaries. "
	if withEmoji {
		sentence = "The relay 🚀 splits long replies at paragraph, line and word boundaries. "
	}
	for b.Len() < 780 {
		b.WriteString(sentence)
	}
	b.WriteString("\n\n```go\n")
	for i := 0; utf8.RuneCountInString(b.String()) < 3200; i++ {
		fmt.Fprintf(&b, "\tresult%03d := compute(ctx, %03d) // step %03d\n", i, i, i)
	}
	b.WriteString("```\n\n")
	head := b.String()
	var t strings.Builder
	for utf8.RuneCountInString(head)+utf8.RuneCountInString(t.String())+len(sentence) < n {
		t.WriteString(sentence)
	}
	for utf8.RuneCountInString(head)+utf8.RuneCountInString(t.String()) < n {
		t.WriteByte('.')
	}
	return head + t.String(), t.String()
}

func TestSplitLongReply(t *testing.T) {
	for _, unit := range []string{descriptor.UnitChars, descriptor.UnitUTF16} {
		for _, emoji := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/emoji=%v", unit, emoji), func(t *testing.T) {
				text, tail := longReply(5000, emoji)
				if n := utf8.RuneCountInString(text); n != 5000 {
					t.Fatalf("longReply has %d code points, want 5000", n)
				}
				got := descriptor.Split(text, 2000, unit, true)
				if len(got) != 3 {
					t.Fatalf("Split(5000-char reply, 2000) = %d chunks, want 3: %q", len(got), got)
				}
				checkChunks(t, text, 2000, unit, got)
				for i, c := range got {
					if !fencesBalanced(c) {
						t.Errorf("chunk %d has unbalanced fences: %q", i, c)
					}
				}
				if !strings.HasSuffix(got[0], "\n```") || !strings.Contains(got[0], "\n\n```go\n") {
					t.Errorf("chunk 0 should open the code block and close it at the cut: ...%q", got[0][len(got[0])-40:])
				}
				if !strings.HasPrefix(got[1], "```go\n\tresult") || !strings.HasSuffix(got[1], "\n```") {
					t.Errorf("chunk 1 should reopen the block with its info string and end with its own fence: %q...%q", got[1][:20], got[1][len(got[1])-20:])
				}
				if got[2] != tail {
					t.Errorf("chunk 2 = %q, want the closing prose %q", got[2], tail)
				}
			})
		}
	}
}

// randomText builds a markdown-like text from words, emoji, combining
// sequences, flags, line and paragraph breaks, and balanced code blocks.
func randomText(r *rand.Rand) string {
	tokens := []string{"🎉", "e\u0301", "1\ufe0f\u20e3", family, "🇫🇷🇩🇪", "👍🏽", "漢字", "a\u00a0b", "`x`", "ok,", "über"}
	word := func() string {
		switch k := r.Intn(30); {
		case k < 3:
			return tokens[r.Intn(len(tokens))]
		case k == 3:
			return strings.Repeat(string(rune('a'+r.Intn(26))), 20+r.Intn(60)) // longer than some limits
		case k == 4:
			// A long word of clusters, cut hard between them.
			var w strings.Builder
			for n := 5 + r.Intn(40); n > 0; n-- {
				w.WriteString(tokens[r.Intn(7)])
			}
			return w.String()
		default:
			n := 1 + r.Intn(10)
			b := make([]byte, n)
			for i := range b {
				b[i] = byte('a' + r.Intn(26))
			}
			return string(b)
		}
	}
	var b strings.Builder
	blocks := 1 + r.Intn(8)
	for i := 0; i < blocks; i++ {
		if i > 0 {
			b.WriteString([]string{"\n\n", "\n", "\n \n", "\r\n\r\n"}[r.Intn(4)])
		}
		if r.Intn(3) == 0 {
			b.WriteString([]string{"```go", "```", "```python", "  ```sh"}[r.Intn(4)])
			b.WriteByte('\n')
			for l := r.Intn(8); l > 0; l-- {
				b.WriteString(strings.Repeat("\t", r.Intn(3)))
				for w := 1 + r.Intn(6); w > 0; w-- {
					b.WriteString(word())
					b.WriteByte(' ')
				}
				b.WriteByte('\n')
			}
			b.WriteString("```")
			continue
		}
		for w := 1 + r.Intn(40); w > 0; w-- {
			if w > 1 && r.Intn(8) == 0 {
				b.WriteByte('\n')
			} else if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(word())
		}
	}
	return b.String()
}

// TestSplitProperties checks the invariants on random texts (fixed seed):
// every chunk fits, content is preserved, fences are balanced in every
// chunk, and no cut separates a cluster.
func TestSplitProperties(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	iterations := 2000
	if testing.Short() {
		iterations = 200
	}
	for i := 0; i < iterations && !t.Failed(); i++ {
		text := randomText(r)
		max := 16 + r.Intn(120)
		unit := []string{descriptor.UnitChars, descriptor.UnitUTF16}[r.Intn(2)]
		code := r.Intn(4) != 0
		got := descriptor.Split(text, max, unit, code)
		checkChunks(t, text, max, unit, got)
		for j, c := range got {
			if code && !fencesBalanced(c) {
				t.Errorf("chunk %d of %d has unbalanced fences: %q", j, len(got), c)
			}
			checkClusters(t, j, c)
		}
		if t.Failed() {
			t.Logf("iteration %d: Split(%+q, %d, %q, %v) = %+q", i, text, max, unit, code, got)
		}
	}
}

// checkClusters asserts that a chunk neither starts with a code point that
// attaches to the one before it nor ends with a ZWJ, looking past the fence
// lines Split adds, and that its regional indicators come in pairs.
func checkClusters(tb testing.TB, i int, c string) {
	tb.Helper()
	starts := []string{c}
	if first, rest, ok := strings.Cut(c, "\n"); ok && isFenceLine(first) {
		starts = append(starts, rest)
	}
	for _, s := range starts {
		if r, _ := utf8.DecodeRuneInString(s); unicode.IsMark(r) || r == '\u200d' || (r >= 0xfe00 && r <= 0xfe0f) || (r >= 0x1f3fb && r <= 0x1f3ff) {
			tb.Errorf("chunk %d starts inside a cluster (%U): %q", i, r, c)
		}
	}
	ends := []string{c}
	if j := strings.LastIndexByte(c, '\n'); j >= 0 && isClosingLine(c[j+1:]) {
		ends = append(ends, c[:j])
	}
	for _, s := range ends {
		if r, _ := utf8.DecodeLastRuneInString(s); r == '\u200d' {
			tb.Errorf("chunk %d ends inside a ZWJ sequence: %q", i, c)
		}
	}
	ri := 0
	for _, r := range c + "." {
		if r >= 0x1f1e6 && r <= 0x1f1ff {
			ri++
			continue
		}
		if ri%2 != 0 {
			tb.Errorf("chunk %d splits a flag pair: %q", i, c)
		}
		ri = 0
	}
}

// TestSplitDegenerate runs the invariants over inputs made of one repeated
// piece: long whitespace, no-break spaces, blank lines, empty code blocks,
// one huge word, combining marks with no base, and so on.
func TestSplitDegenerate(t *testing.T) {
	inputs := map[string]string{
		"Spaces":                strings.Repeat(" ", 4096) + "x",
		"NoBreakSpaceWords":     strings.Repeat("a\u00a0", 2048),
		"NoBreakSpaceRun":       "a" + strings.Repeat("\u00a0", 4096) + "b",
		"NoBreakSpaceOnly":      "a " + strings.Repeat("\u00a0", 40) + " b",
		"Newlines":              strings.Repeat("\n", 4096),
		"EmptyBlocks":           strings.Repeat("```\n", 1024),
		"OneWord":               strings.Repeat("x", 4096),
		"Words":                 strings.Repeat("a ", 2048),
		"MarksOnly":             strings.Repeat("\u0301", 2048),
		"ZWJOnly":               strings.Repeat("\u200d", 2048),
		"FlagsOnly":             strings.Repeat("🇫", 2047),
		"UnclosedFence":         "```go\n" + strings.Repeat("code line\n", 200),
		"LongOpeningLine":       "```" + strings.Repeat("a b ", 40) + "\ncode\n```",
		"WideFence":             strings.Repeat("`", 20) + "\n" + strings.Repeat("code line\n", 20) + strings.Repeat("`", 20),
		"InvalidUTF8":           strings.Repeat("\xff \xfe\n", 1024),
		"CRLF":                  strings.Repeat("word word\r\n", 500),
		"SpaceBeforeMarks":      strings.Repeat("a \u0301\u0301 ", 1000),
		"IndentedCode":          "```\n" + strings.Repeat("\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\tx\n", 50) + "```",
		"NewlineBeforeMark":     strings.Repeat("ab\n\u0301cd ", 500),
		"FenceAfterMarkNewline": "x\n\u0301```go\ncode\n```\n" + strings.Repeat("w ", 50),
		"TripleBackticksInline": strings.Repeat("a ```b``` c ", 300),
		"LeadingSpacesLongWord": "      " + strings.Repeat("y", 100),
		"ClusterAfterIndent":    "```\n" + strings.Repeat("\t\t"+family+" x\n", 50) + "```",
	}
	for name, text := range inputs {
		for _, unit := range []string{descriptor.UnitChars, descriptor.UnitUTF16} {
			for _, max := range []int{0, 16, 17, 40, 2000} {
				for _, code := range []bool{false, true} {
					t.Run(fmt.Sprintf("%s/%s/%d/%v", name, unit, max, code), func(t *testing.T) {
						got := descriptor.Split(text, max, unit, code)
						checkChunks(t, text, max, unit, got)
					})
				}
			}
		}
	}
}
