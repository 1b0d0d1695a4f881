package descriptor

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MinSplitMax is the smallest limit [Split] works with; a smaller max is
// raised to it. It leaves room for a closing and a reopening ``` fence line
// (8 units) plus at least 8 units of content, so that every chunk makes
// progress even inside a code block.
const MinSplitMax = 16

// Split cuts text into chunks of at most max units each (counted as [Len]
// counts in unit), for platforms that refuse longer messages.
//
// A text that fits is returned as the only chunk, unchanged; an empty text
// yields nil. Otherwise each cut is made at the last boundary that fits,
// preferring, in this order, a paragraph break (a blank line), a line break,
// and whitespace between words; a boundary of a preferred kind is passed
// over when it would leave the chunk less than half full and a later
// boundary of a lesser kind exists. Inside a code block, whitespace between
// words is cut at only when no line ends within reach, since such a cut
// breaks a line of code in two. Only when the room left holds no
// whitespace at all (a single word longer than the limit) is a word cut
// hard, and then still between user-perceived characters: never inside a
// UTF-8 sequence (so never between the halves of a UTF-16 surrogate pair),
// never before a combining mark (Unicode Mn, Mc, Me), a variation selector,
// an emoji modifier or a tag character, never after a ZWJ (keeping ZWJ emoji
// sequences whole) and never inside a regional-indicator flag pair. Such a
// cluster is broken between code points only when it is alone longer than
// the limit.
//
// The whitespace at a cut is dropped: a chunk ends with the character before
// it and the next one starts with the character after it (inside a code
// block, with the indentation of its first line kept, unless that
// indentation alone keeps the first cluster from fitting); everything else
// is byte-identical to the input. Whitespace-only pieces are never returned
// (a whitespace-only text longer than max yields nil). No-break spaces
// (U+00A0, U+2007, U+202F) are not cut at.
//
// When codeBlocks is true, ``` fenced code blocks are tracked line by line
// (a line starting, after indentation, with three or more backticks and no
// other backtick opens a block; a line of at least as many backticks and
// nothing else closes it). A cut inside a block closes it at the end of the
// chunk ("\n```") and reopens it at the start of the next with the same
// opening line, info string included ("```go\n"); the added fence text
// counts toward max. When reopen and close together exceed max/2, the info
// string is dropped from the reopened line, then its indentation; a block
// whose bare fences still exceed max/2 is cut as plain text. A chunk ends
// right after a block's opening line (an empty block) only when that line
// and the block's first line cannot share a chunk. When the fences of text
// are balanced, those of every chunk are, unless a fence line is too long to
// carry or longer than the limit.
//
// max below [MinSplitMax] is treated as MinSplitMax. Split never panics and
// always terminates: every chunk consumes at least one character.
func Split(text string, max int, unit string, codeBlocks bool) []string {
	if text == "" {
		return nil
	}
	if max < MinSplitMax {
		max = MinSplitMax
	}
	if Len(text, unit) <= max {
		return []string{text}
	}
	s := splitter{text: text, max: max, utf16: unit == UnitUTF16, code: codeBlocks}
	return s.split()
}

const zwj = '\u200D'

// fence is the code-block state at the start of a line.
type fence struct {
	open  bool
	ticks int // backticks of the opening line
	// reopen starts a chunk that continues the block and close ends a chunk
	// cut inside it; both are "" when the block is too wide to carry.
	reopen string
	close  string
	// reopenUnits and closeUnits are their lengths in the split's unit.
	reopenUnits int
	closeUnits  int
}

func (f fence) carried() bool { return f.open && f.reopen != "" }

// reopenLen is the length of the prefix of a chunk starting in state f.
func (f fence) reopenLen() int {
	if !f.carried() {
		return 0
	}
	return f.reopenUnits
}

// cut is a place to end a chunk.
type cut struct {
	ok        bool
	end       int   // the chunk's content is text[pos:end]
	units     int   // Len(text[pos:end])
	next      int   // where the next chunk's content starts
	lineStart int   // start of the line holding next
	fence     fence // fence state at lineStart: also the state at end and next
}

// wordCut is a cut inside a word, where the chunk ends and the next starts.
// It is updated at most once per code point, so set copies the fence state
// only when the line changes.
type wordCut struct{ c cut }

func (w *wordCut) set(i, units, lineStart int, f *fence) {
	if !w.c.ok || w.c.lineStart != lineStart {
		w.c.fence = *f
	}
	w.c.ok, w.c.end, w.c.units, w.c.next, w.c.lineStart = true, i, units, i, lineStart
}

// Outcomes of a scan.
const (
	scanCut   = iota // end a chunk at the returned cut
	scanFits         // the rest of the text fits in this chunk
	scanBlank        // the rest of the text is whitespace
	scanSkip         // drop the whitespace before cut.next and resume there
)

// Boundary kinds, in increasing preference.
const (
	levelWord = iota
	levelLine
	levelParagraph
	levels
)

type splitter struct {
	text  string
	max   int
	utf16 bool
	code  bool
}

func (s *splitter) len(str string) int {
	if s.utf16 {
		return Len(str, UnitUTF16)
	}
	return utf8.RuneCountInString(str)
}

func (s *splitter) split() []string {
	var chunks []string
	pos, lineStart := 0, 0
	var st fence // state at lineStart, and so at pos
	for pos < len(s.text) {
		prefix := ""
		if st.carried() {
			prefix = st.reopen
		}
		c, outcome := s.scan(pos, lineStart, st, s.max-st.reopenLen())
		switch outcome {
		case scanFits:
			return append(chunks, prefix+s.text[pos:])
		case scanBlank:
			return chunks
		case scanCut:
			suffix := ""
			if c.fence.carried() {
				suffix = c.fence.close
			}
			chunks = append(chunks, prefix+s.text[pos:c.end]+suffix)
		}
		pos, lineStart, st = c.next, c.lineStart, c.fence
	}
	return chunks
}

// scan walks the text from pos (inside the line starting at lineStart, whose
// fence state is st) and finds where to end a chunk whose content may take
// budget units, the added closing fence included.
//
// Terms: a space is a white-space code point not followed by an extender;
// ink is everything else; a run is a sequence of spaces right after ink,
// and a cut can be made at its start (dropping it) when it holds a
// breakable space (not only no-break spaces).
func (s *splitter) scan(pos, lineStart int, st fence, budget int) (cut, int) {
	text := s.text
	var (
		u        int // Len(text[pos:i])
		sawInk   bool
		prevInk  bool
		prev     rune = -1
		riOdd    bool // an odd number of regional indicators ends at prev
		word     int  // where the current word (ink since the last space) starts
		firstInk int  // where the first ink starts (-1 before it)

		// Candidate cuts, each the last that fits of its kind.
		best      [levels]cut // at runs
		afterOpen cut         // at a run right after an opening fence line
		inOpener  cut         // at a run inside an opening fence line
		codeWord  cut         // at a run inside a line of code
		codeLine  int         // where the line holding codeWord starts
		hard      wordCut     // between clusters inside a word
		hardWord  int         // where the word holding hard starts
		hardRune  wordCut     // between code points inside a word
		skip      cut         // resume at the first ink, dropping the spaces before it

		// lineOpens says the current line is an opening fence line.
		lineOpens = s.code && !st.open && isFenceStart(text[lineStart:])

		// The run being scanned.
		inRun        bool
		runEnd       int // where the run starts: the candidate chunk end
		runUnits     int
		runBreakable bool
		runNL        int
		runLastNL    int
		runOpened    bool // the line ended by the run's first newline opened a block
	)
	firstInk = -1
	ls, lst := lineStart, st
	closing := s.closeLen(lst) // of a cut in the current line

	finishRun := func(j int) {
		inRun = false
		if !runBreakable || runUnits+s.closeLen(lst) > budget {
			return
		}
		next := j
		if runNL > 0 && lst.open {
			next = runLastNL + 1 // keep the indentation of a code line
		}
		c := cut{ok: true, end: runEnd, units: runUnits, next: next, lineStart: ls, fence: lst}
		switch {
		case runNL == 0 && lineOpens:
			inOpener = c
		case runNL > 0 && runOpened:
			// The chunk would end with an opening fence line, an empty
			// block: only for an opening line too long to share a chunk
			// with the block's first word.
			afterOpen = c
		case runNL >= 2:
			best[levelParagraph] = c
		case runNL == 1:
			best[levelLine] = c
		case lst.open:
			// A cut between words of a code line breaks the line in two:
			// only when no line ends in reach.
			codeWord, codeLine = c, ls
		default:
			best[levelWord] = c
		}
	}

	i := pos
	for i < len(text) {
		r, size := rune(text[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(text[i:])
		}
		space := isSpace(r) && !s.extenderAt(i+size)
		if !space {
			if inRun {
				finishRun(i)
			}
			if u > budget {
				break
			}
			if !sawInk {
				sawInk, firstInk = true, i
				skip = cut{next: i, lineStart: ls, fence: lst}
			}
			if !prevInk {
				word = i
			}
		}
		breakable := space && isBreakSpace(r)
		if prevInk && !breakable && u+closing <= budget {
			hardRune.set(i, u, ls, &lst)
			if !lineOpens && clusterBoundary(prev, r, riOdd) {
				hard.set(i, u, ls, &lst)
				hardWord = word
			}
		}
		if space {
			if prevInk {
				inRun, runEnd, runUnits, runBreakable, runNL, runOpened = true, i, u, false, 0, false
			}
			runBreakable = runBreakable || breakable
		}
		if r == '\n' {
			opened := false
			if s.code {
				lst, opened = s.endLine(text[ls:i], lst)
			}
			if inRun {
				if runNL == 0 {
					runOpened = opened
				}
				runNL++
				runLastNL = i
			}
			ls = i + 1
			lineOpens = s.code && !lst.open && isFenceStart(text[ls:])
			closing = s.closeLen(lst)
		}
		if isRegionalIndicator(r) {
			riOdd = !riOdd
		} else {
			riOdd = false
		}
		prev, prevInk = r, !space
		u += runeUnits(r, s.utf16)
		i += size
	}
	if i >= len(text) {
		if inRun {
			finishRun(len(text))
		}
		if !sawInk {
			return cut{}, scanBlank
		}
		if u <= budget {
			return cut{}, scanFits
		}
	}
	if !sawInk {
		// Only spaces fit: drop them.
		return cut{next: i, lineStart: ls, fence: lst}, scanSkip
	}

	half := budget / 2
	for lvl := levels - 1; lvl >= 0; lvl-- {
		if best[lvl].ok && best[lvl].units >= half {
			return best[lvl], scanCut
		}
	}
	var c cut
	for _, b := range best {
		if b.ok && (!c.ok || b.end > c.end) {
			c = b
		}
	}
	if c.ok {
		return c, scanCut
	}
	if afterOpen.ok && (codeWord.ok || hard.c.ok) {
		// The opening line and the block's first line do not fit together.
		// End the chunk after the opening line (an empty block), unless the
		// first line (or, for a hard cut, its first word) would need
		// cutting even at the start of the next chunk.
		room := s.max - afterOpen.fence.reopenLen() - s.closeLen(afterOpen.fence)
		if codeWord.ok {
			if s.fits(codeLine, room, false) {
				return afterOpen, scanCut
			}
			return codeWord, scanCut
		}
		if s.fits(hardWord, room, true) {
			return afterOpen, scanCut
		}
		return hard.c, scanCut
	}
	switch {
	case codeWord.ok:
		return codeWord, scanCut
	case afterOpen.ok:
		return afterOpen, scanCut
	case hard.c.ok:
		return hard.c, scanCut
	case firstInk > pos:
		// Indentation keeps the first cluster from fitting: drop it rather
		// than break the cluster.
		return skip, scanSkip
	case inOpener.ok:
		return inOpener, scanCut
	case hardRune.c.ok:
		return hardRune.c, scanCut
	}
	// Unreachable: the first ink code point fits, and after it the text
	// ends, or a run or a cut inside a word fits. Should it ever happen, put
	// everything scanned into the chunk rather than lose or loop.
	return cut{ok: true, end: i, units: u, next: i, lineStart: ls, fence: lst}, scanCut
}

// fits reports whether the word (or, with word false, the line) starting at
// text[i:] is at most limit units long.
func (s *splitter) fits(i, limit int, word bool) bool {
	n := 0
	for i < len(s.text) {
		r, size := utf8.DecodeRuneInString(s.text[i:])
		if r == '\n' || word && isBreakSpace(r) && !s.extenderAt(i+size) {
			break
		}
		if n += runeUnits(r, s.utf16); n > limit {
			return false
		}
		i += size
	}
	return true
}

// closeLen is the length of the fence that closes a chunk cut in state f.
func (s *splitter) closeLen(f fence) int {
	if !f.carried() {
		return 0
	}
	return f.closeUnits
}

// endLine updates the fence state at the end of a line. opened reports that
// the line opened a block.
func (s *splitter) endLine(line string, st fence) (f fence, opened bool) {
	t := strings.TrimLeft(line, " \t")
	n := 0
	for n < len(t) && t[n] == '`' {
		n++
	}
	if !st.open {
		// An info string cannot hold a backtick: "```x```" is inline code.
		if n < 3 || strings.IndexByte(t[n:], '`') >= 0 {
			return st, false
		}
		return s.newFence(line, t, n), true
	}
	if n >= st.ticks && strings.TrimRight(t[n:], " \t\r") == "" {
		return fence{}, false
	}
	return st, false
}

// newFence is the state after the opening line of a block; t is line
// without its indentation and n the number of backticks t starts with.
func (s *splitter) newFence(line, t string, n int) fence {
	indent, ticks := line[:len(line)-len(t)], t[:n]
	// Prefer the full opening line, then its fence without the info string,
	// then without the indentation; a block whose fences cannot fit in half
	// of max is not carried.
	half := s.max / 2
	for _, f := range [...][2]string{
		{strings.TrimRight(line, " \t\r") + "\n", "\n" + indent + ticks},
		{indent + ticks + "\n", "\n" + indent + ticks},
		{ticks + "\n", "\n" + ticks},
	} {
		if ru, cu := s.len(f[0]), s.len(f[1]); ru+cu <= half {
			return fence{open: true, ticks: n, reopen: f[0], close: f[1], reopenUnits: ru, closeUnits: cu}
		}
	}
	return fence{open: true, ticks: n}
}

// isFenceStart reports whether a (partial) line starts like a fence line.
func isFenceStart(line string) bool {
	return strings.HasPrefix(strings.TrimLeft(line, " \t"), "```")
}

// isSpace reports whether r is Unicode white space.
func isSpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '\v', '\f':
		return true
	}
	return r >= utf8.RuneSelf && unicode.IsSpace(r)
}

// isBreakSpace reports whether a cut may be made at r: Unicode white space
// other than the no-break spaces.
func isBreakSpace(r rune) bool {
	switch r {
	case '\u00A0', '\u2007', '\u202F':
		return false
	}
	return isSpace(r)
}

// extenderAt reports whether the code point at text[j:] attaches to the one
// before it.
func (s *splitter) extenderAt(j int) bool {
	if j >= len(s.text) || s.text[j] < utf8.RuneSelf {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s.text[j:])
	return isExtender(r)
}

// isExtender reports whether r belongs to the cluster of the code point
// before it: a combining mark, ZWJ, a variation selector, an emoji skin-tone
// modifier or a tag character (subdivision flags).
func isExtender(r rune) bool {
	switch {
	case r < 0x300:
		return false
	case r == zwj,
		r >= 0xFE00 && r <= 0xFE0F,   // variation selectors (FE0E text, FE0F emoji)
		r >= 0x1F3FB && r <= 0x1F3FF, // emoji modifiers
		r >= 0xE0020 && r <= 0xE007F, // tags
		r >= 0xE0100 && r <= 0xE01EF: // variation selectors supplement
		return true
	}
	return unicode.IsMark(r) // Mn, Mc, Me
}

func isRegionalIndicator(r rune) bool { return r >= 0x1F1E6 && r <= 0x1F1FF }

// clusterBoundary reports whether a cut may be made between prev and r
// without splitting a user-perceived character. riOdd says an odd number of
// regional indicators ends at prev.
func clusterBoundary(prev, r rune, riOdd bool) bool {
	if prev < utf8.RuneSelf && r < utf8.RuneSelf {
		return prev != '\r' || r != '\n'
	}
	switch {
	case isExtender(r), prev == zwj, prev == '\r' && r == '\n':
		return false
	case riOdd && isRegionalIndicator(r):
		return false
	}
	return true
}
