package descriptor

import (
	"unicode/utf16"
	"unicode/utf8"
)

// Len returns the length of s in unit: UTF-16 code units for [UnitUTF16]
// (a code point above U+FFFF, such as most emoji, counts 2), Unicode code
// points for anything else. Each byte of invalid UTF-8 counts as one code
// point (U+FFFD) in either unit.
func Len(s string, unit string) int {
	if unit != UnitUTF16 {
		return utf8.RuneCountInString(s)
	}
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		n += runeUnits(r, true)
		i += size
	}
	return n
}

// runeUnits is the length of one code point: 2 for a UTF-16 surrogate pair
// when counting UTF-16, 1 otherwise.
func runeUnits(r rune, utf16Units bool) int {
	if utf16Units && utf16.RuneLen(r) == 2 {
		return 2
	}
	return 1
}
