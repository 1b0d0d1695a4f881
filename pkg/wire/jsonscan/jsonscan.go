// Package jsonscan holds the JSON primitives of relaybus's fast paths: the
// ones that read a frame or body in one pass, without reflection, and hand
// anything unusual to encoding/json. ws-edge's frame sniffer, the
// converter's forward-frame scanner (wire.DecodeForwardFrame), token
// stripping and the dev connector all read JSON through this package only.
//
// Contract: it agrees with wire.DecodeFrame, that is with encoding/json.
// A value Value or Valid accepts (with MaxDepth) is exactly a value
// json.Valid accepts, with the same nesting limit; a string literal String
// accepts is one encoding/json decodes, and Unquote returns what
// json.Unmarshal returns for it. Callers build their fast paths on these
// answers and fall back to encoding/json, which has the last word (and the
// precise error), whenever the input leaves what they handle. The fuzz
// targets of this package hold it to encoding/json; those of each caller
// hold the caller to its slow path.
//
// Positions are byte offsets into the input; nothing is copied. Every
// function is safe on any input: on invalid JSON it reports Syntax (or EOF
// when the input ends inside a value) and never panics.
package jsonscan

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"unicode/utf8"
)

// Status is the outcome of one scan step.
type Status uint8

const (
	// OK: a complete, well-formed token or value was read.
	OK Status = iota
	// Syntax: the input is not JSON at this point (or is deeper than the
	// caller's nesting limit).
	Syntax
	// EOF: the input ended inside a value; what was read is a well-formed
	// start of one. Callers that read only a prefix of a document (ws-edge
	// keeps the first bytes of an oversized frame) tell it from Syntax.
	EOF
)

// MaxDepth is encoding/json's nesting limit: json.Valid refuses a document
// with more than this many nested objects and arrays.
const MaxDepth = 10000

// SkipSpace returns the index of the first byte at or after i that is not
// JSON whitespace (space, tab, CR, LF).
func SkipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// TrimSpace trims JSON whitespace from both ends of b. bytes.TrimSpace
// would also strip Unicode spaces such as U+00A0 and accept a document that
// no JSON parser downstream can read.
func TrimSpace(b []byte) []byte {
	b = b[SkipSpace(b, 0):]
	for len(b) > 0 {
		switch b[len(b)-1] {
		case ' ', '\t', '\n', '\r':
			b = b[:len(b)-1]
		default:
			return b
		}
	}
	return b
}

// Valid reports whether b is exactly one JSON value, with whitespace around
// it allowed: json.Valid's answer, in one pass without allocation.
func Valid(b []byte) bool {
	end, st := Value(b, SkipSpace(b, 0), MaxDepth)
	return st == OK && SkipSpace(b, end) == len(b)
}

// Value scans the JSON value starting at b[i] and returns the index after
// it. maxDepth bounds how many objects and arrays may nest inside one
// another, this value's included; deeper input is Syntax (MaxDepth is
// encoding/json's bound; a fast path may choose a lower one and leave
// deeper documents to encoding/json).
func Value(b []byte, i, maxDepth int) (int, Status) {
	if i >= len(b) {
		return i, EOF
	}
	switch c := b[i]; {
	case c == '"':
		end, _, st := String(b, i)
		return end, st
	case c == '{' || c == '[':
		if maxDepth <= 0 {
			return i, Syntax
		}
		return container(b, i, maxDepth-1)
	case c == 't':
		return Literal(b, i, "true")
	case c == 'f':
		return Literal(b, i, "false")
	case c == 'n':
		return Literal(b, i, "null")
	case c == '-' || c >= '0' && c <= '9':
		return Number(b, i)
	}
	return i, Syntax
}

// container scans the object or array at b[i]; maxDepth bounds what nests
// inside it.
func container(b []byte, i, maxDepth int) (int, Status) {
	obj := b[i] == '{'
	closer := byte(']')
	if obj {
		closer = '}'
	}
	i = SkipSpace(b, i+1)
	if i >= len(b) {
		return i, EOF
	}
	if b[i] == closer {
		return i + 1, OK
	}
	for {
		var st Status
		if obj {
			if _, i, st = key(b, i); st != OK {
				return i, st
			}
		}
		if i, st = Value(b, i, maxDepth); st != OK {
			return i, st
		}
		i = SkipSpace(b, i)
		if i >= len(b) {
			return i, EOF
		}
		switch b[i] {
		case ',':
			i = SkipSpace(b, i+1)
		case closer:
			return i + 1, OK
		default:
			return i, Syntax
		}
	}
}

// key scans `"name" :` at b[i] and returns the index after the key's
// closing quote and the index of the value.
func key(b []byte, i int) (end, value int, st Status) {
	if i >= len(b) {
		return i, i, EOF
	}
	if b[i] != '"' {
		return i, i, Syntax
	}
	if end, _, st = String(b, i); st != OK {
		return end, end, st
	}
	i = SkipSpace(b, end)
	if i >= len(b) {
		return end, i, EOF
	}
	if b[i] != ':' {
		return end, i, Syntax
	}
	return end, SkipSpace(b, i+1), OK
}

// strSpecial marks the bytes that end the fast loop of String.
var strSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'] = true
	t['\\'] = true
	return t
}()

// Word-at-a-time tests (Hacker's Delight / "Bit Twiddling Hacks"): a word
// has a byte below n when (x - n·0x01…) & ^x & 0x80… is non-zero, and a
// byte equal to v when x ^ v·0x01… has a zero byte. Both may report a false
// positive (then the byte loop decides) but never a false negative.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// controlIn is non-zero when one of the 8 bytes of x is below 0x20 (exact:
// a borrow only runs on from a byte that is).
func controlIn(x uint64) uint64 { return (x - 0x20*lsb) & ^x & msb }

// specialIn reports whether the 8 bytes of x may hold a control character,
// a quote or a backslash.
func specialIn(x uint64) bool {
	ctl := controlIn(x)
	q := x ^ '"'*lsb
	bs := x ^ '\\'*lsb
	return ctl|(q-lsb)&^q&msb|(bs-lsb)&^bs&msb != 0
}

// longString is where String switches to vector scans: short strings (keys,
// ids) end sooner in its word loop than the scans take to start.
const longString = 32

// hasControl reports whether v holds a byte below 0x20.
func hasControl(v []byte) bool {
	i := 0
	for ; i+8 <= len(v); i += 8 {
		if controlIn(binary.LittleEndian.Uint64(v[i:])) != 0 {
			break // the bytes of this word say which
		}
	}
	for _, c := range v[i:] {
		if c < 0x20 {
			return true
		}
	}
	return false
}

// String scans the string literal whose opening quote is b[i] and returns
// the index after its closing quote. plain is false when the literal holds
// an escape. Like encoding/json it accepts any byte >= 0x20 other than '"'
// and '\' unescaped, invalid UTF-8 included (encoding/json decodes such
// bytes as U+FFFD; see Plain).
func String(b []byte, i int) (end int, plain bool, st Status) {
	plain = true
	i++
	start := i
	for {
		// Eight bytes at a time while none of them can end the string: long
		// strings (a forwarded body's base64) are most of a frame.
		for i+8 <= len(b) && !specialIn(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
			if i-start == longString {
				// A long one: its end is most likely the next quote, with
				// no backslash or control character before it, which
				// vector scans find several times as fast as this loop.
				if q := bytes.IndexByte(b[i:], '"'); q >= 0 {
					if v := b[i : i+q]; bytes.IndexByte(v, '\\') < 0 && !hasControl(v) {
						return i + q + 1, plain, OK
					}
				}
			}
		}
		for i < len(b) && !strSpecial[b[i]] {
			i++
		}
		if i >= len(b) {
			return i, plain, EOF
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, plain, OK
		case c == '\\':
			plain = false
			if i+1 >= len(b) {
				return i, plain, EOF
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := 2; k < 6; k++ {
					if i+k >= len(b) {
						return i, plain, EOF
					}
					if !isHex(b[i+k]) {
						return i, plain, Syntax
					}
				}
				i += 6
			default:
				return i, plain, Syntax
			}
		default: // control character
			return i, plain, Syntax
		}
	}
}

// Plain reports whether the content v of a string literal (the bytes
// between its quotes, as String scanned them with plain set) decodes to
// itself: it holds valid UTF-8. encoding/json replaces each invalid byte
// with U+FFFD.
func Plain(v []byte) bool {
	// utf8.Valid skips ASCII a word at a time (bodyB64, the longest
	// string of a frame, is all ASCII); a byte loop was 10 % of decoding
	// a forward frame.
	return utf8.Valid(v)
}

// Unquote decodes a complete string literal (quotes included) as
// json.Unmarshal does. A literal without escapes and with valid UTF-8 is
// its own content; anything else is left to encoding/json.
func Unquote(lit []byte) (string, bool) {
	if n := len(lit); n >= 2 && lit[0] == '"' && lit[n-1] == '"' {
		if end, plain, st := String(lit, 0); st == OK && end == n && plain && Plain(lit[1:n-1]) {
			return string(lit[1 : n-1]), true
		}
	}
	var s string
	if json.Unmarshal(lit, &s) != nil {
		return "", false
	}
	return s, true
}

// KeyIs reports whether the string literal lit (quotes included) decodes to
// name. With fold, the comparison is the one encoding/json makes between an
// object key and a struct field's name: case-insensitive under Unicode
// simple folding (bytes.EqualFold).
func KeyIs(lit []byte, name string, fold bool) bool {
	if n := len(lit); n >= 2 && bytes.IndexByte(lit, '\\') < 0 {
		v := lit[1 : n-1]
		if fold {
			return bytes.EqualFold(v, []byte(name))
		}
		return string(v) == name
	}
	k, ok := Unquote(lit)
	if !ok {
		return false
	}
	if fold {
		return bytes.EqualFold([]byte(k), []byte(name))
	}
	return k == name
}

// Literal scans the literal lit (true, false or null) at b[i].
func Literal(b []byte, i int, lit string) (int, Status) {
	n := min(len(lit), len(b)-i)
	if string(b[i:i+n]) != lit[:n] {
		return i, Syntax
	}
	if n < len(lit) {
		return len(b), EOF
	}
	return i + n, OK
}

// Number scans the number at b[i]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
// A number may end the input: whether that is complete is the caller's
// call (a document ends there; a prefix may continue).
func Number(b []byte, i int) (int, Status) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return i, EOF
	}
	switch {
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return i, Syntax
	}
	var st Status
	if i < len(b) && b[i] == '.' {
		if i, st = someDigits(b, i+1); st != OK {
			return i, st
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		return someDigits(b, i)
	}
	return i, OK
}

// someDigits scans one or more digits at b[i].
func someDigits(b []byte, i int) (int, Status) {
	if i >= len(b) {
		return i, EOF
	}
	if !isDigit(b[i]) {
		return i, Syntax
	}
	return digits(b, i), OK
}

func digits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
