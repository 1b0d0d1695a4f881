// Package sniff is ws-edge's fast path for classifying connector frames.
//
// events.DecodeFrame is the definition of a well-formed frame, but it decodes
// with encoding/json, which costs tens of microseconds for a frame carrying a
// few kilobytes of base64 (a Discord interaction). ws-edge only needs the
// envelope of a data frame (its type and bufferId) to publish it, so Frame
// validates the whole frame in one pass with a small hand-written JSON
// scanner and extracts just those two keys.
//
// Frame is conservative by construction: it answers ok only when it is
// certain that events.DecodeFrame accepts the frame with the same type and
// bufferId, and the type is not a control frame. Anything unusual (escapes or
// non-ASCII bytes in a key, type or bufferId; a key that matches a frame field
// only case-insensitively; a repeated frame field; a wrong JSON kind; deep
// nesting; trailing bytes) makes it answer !ok, and the caller falls back to
// events.DecodeFrame, which then has the final word, including the reason of
// a rejection. A differential fuzz test holds the two to that agreement.
package sniff

import (
	"bytes"
	"encoding/binary"
)

// maxDepth bounds nesting; deeper documents go to the slow path (which has
// its own limit).
const maxDepth = 512

// result of one scan step: ok, or why scanning stopped.
type status uint8

const (
	statusOK     status = iota
	statusSyntax        // not JSON, or not something the fast path handles
	statusEOF           // input ended inside a value
)

// frame fields the fast path knows (events.Frame's JSON keys).
const (
	fieldNone = iota
	fieldType
	fieldBufferID
	fieldRequestID
	fieldSessionKey
	fieldChatID
	fieldEvent
	fieldForward
	fieldDescriptor
	fieldResult
	numFields
)

var fieldNames = [numFields]string{
	fieldType:       "type",
	fieldBufferID:   "bufferId",
	fieldRequestID:  "requestId",
	fieldSessionKey: "session_key",
	fieldChatID:     "chat_id",
	fieldEvent:      "event",
	fieldForward:    "forward",
	fieldDescriptor: "descriptor",
	fieldResult:     "result",
}

// envelope is what one scan learns about a frame.
type envelope struct {
	typ        []byte
	bufferID   []byte
	seen       [numFields]bool
	first      [numFields]byte // first byte of the value of an object-valued field
	sessionKey bool            // session_key is a non-empty string
}

// Frame reports whether b (one frame, without its newline) is a data frame
// that events.DecodeFrame accepts, and returns its type and bufferId as
// sub-slices of b (bufferID is nil when absent). See the package comment for
// when it answers !ok.
func Frame(b []byte) (typ, bufferID []byte, ok bool) {
	var e envelope
	i, st := e.scan(b, false)
	if st != statusOK {
		return nil, nil, false
	}
	if skipWS(b, i) != len(b) || len(e.typ) == 0 {
		return nil, nil, false
	}
	switch string(e.typ) {
	case "inbound":
		ok = e.first[fieldEvent] == '{'
	case "passthrough_forward":
		ok = e.first[fieldForward] == '{'
	case "interrupt_inbound":
		ok = e.sessionKey
	case "descriptor", "outbound_result", "going_idle_ack":
		ok = false // control frames take the full decoder
	default:
		ok = true
	}
	if !ok {
		return nil, nil, false
	}
	return e.typ, e.bufferID, true
}

// Prefix looks for the top-level "type" and "bufferId" strings in what may
// be only the first bytes of a frame (the prefix kept of an oversized frame).
// Each is returned when the prefix is a well-formed start of a JSON object
// and the key and its complete, plain value were seen before the prefix ends;
// otherwise it is "".
func Prefix(b []byte) (typ, bufferID string) {
	var e envelope
	if _, st := e.scan(b, true); st == statusSyntax {
		return "", ""
	}
	return string(e.typ), string(e.bufferID)
}

// scan reads the top-level object at the start of b. With partial set, input
// that ends early stops the scan with statusEOF and keeps what was learnt.
func (e *envelope) scan(b []byte, partial bool) (int, status) {
	i := skipWS(b, 0)
	if i >= len(b) {
		return i, statusEOF
	}
	if b[i] != '{' {
		return i, statusSyntax
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, statusOK
	}
	for {
		if i >= len(b) {
			return i, statusEOF
		}
		if b[i] != '"' {
			return i, statusSyntax
		}
		ks := i + 1
		end, plain, st := scanString(b, i)
		if st != statusOK {
			return end, st
		}
		key := b[ks : end-1]
		field := fieldNone
		if !plain || !ascii(key) {
			// An escaped or non-ASCII key could still name a field
			// (encoding/json unescapes and folds case): slow path.
			return end, statusSyntax
		}
		for f := fieldType; f < numFields; f++ {
			if string(key) == fieldNames[f] {
				field = f
				break
			}
			if equalFoldASCII(key, fieldNames[f]) {
				return end, statusSyntax
			}
		}
		if field != fieldNone && e.seen[field] {
			return end, statusSyntax // encoding/json keeps the last; let it decide
		}
		i = skipWS(b, end)
		if i >= len(b) {
			return i, statusEOF
		}
		if b[i] != ':' {
			return i, statusSyntax
		}
		i = skipWS(b, i+1)
		if i >= len(b) {
			return i, statusEOF
		}
		vs := i
		i, st = e.value(b, i, field)
		if st != statusOK {
			if st == statusEOF && !partial {
				st = statusSyntax
			}
			return i, st
		}
		if field != fieldNone {
			e.seen[field] = true
			e.first[field] = b[vs]
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return i, statusEOF
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return i + 1, statusOK
		default:
			return i, statusSyntax
		}
	}
}

// value scans the value of a top-level key, checking the JSON kind the
// frame field wants.
func (e *envelope) value(b []byte, i, field int) (int, status) {
	c := b[i]
	switch field {
	case fieldType, fieldBufferID:
		if c == 'n' && field == fieldBufferID {
			return literal(b, i, "null")
		}
		if c != '"' {
			return i, statusSyntax
		}
		end, plain, st := scanString(b, i)
		if st != statusOK {
			return end, st
		}
		v := b[i+1 : end-1]
		if !plain || !printableASCII(v) {
			return end, statusSyntax
		}
		if field == fieldType {
			e.typ = v
		} else {
			e.bufferID = v
		}
		return end, statusOK
	case fieldRequestID, fieldSessionKey, fieldChatID:
		if c == 'n' {
			return literal(b, i, "null")
		}
		if c != '"' {
			return i, statusSyntax
		}
		end, _, st := scanString(b, i)
		if st == statusOK && field == fieldSessionKey {
			e.sessionKey = end-i > 2
		}
		return end, st
	}
	return skipValue(b, i, 1)
}

// skipValue scans one JSON value starting at b[i].
func skipValue(b []byte, i, depth int) (int, status) {
	if i >= len(b) {
		return i, statusEOF
	}
	switch c := b[i]; {
	case c == '"':
		end, _, st := scanString(b, i)
		return end, st
	case c == '{' || c == '[':
		if depth > maxDepth {
			return i, statusSyntax
		}
		return skipContainer(b, i, depth)
	case c == 't':
		return literal(b, i, "true")
	case c == 'f':
		return literal(b, i, "false")
	case c == 'n':
		return literal(b, i, "null")
	case c == '-' || c >= '0' && c <= '9':
		return number(b, i)
	}
	return i, statusSyntax
}

func skipContainer(b []byte, i, depth int) (int, status) {
	obj := b[i] == '{'
	closer := byte(']')
	if obj {
		closer = '}'
	}
	i = skipWS(b, i+1)
	if i >= len(b) {
		return i, statusEOF
	}
	if b[i] == closer {
		return i + 1, statusOK
	}
	for {
		var st status
		if obj {
			if i >= len(b) {
				return i, statusEOF
			}
			if b[i] != '"' {
				return i, statusSyntax
			}
			if i, _, st = scanString(b, i); st != statusOK {
				return i, st
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return i, statusEOF
			}
			if b[i] != ':' {
				return i, statusSyntax
			}
			i = skipWS(b, i+1)
		}
		if i, st = skipValue(b, i, depth+1); st != statusOK {
			return i, st
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return i, statusEOF
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case closer:
			return i + 1, statusOK
		default:
			return i, statusSyntax
		}
	}
}

// strSpecial marks the bytes that end the fast loop of scanString.
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

// specialIn reports whether the 8 bytes of x may hold a control character,
// a quote or a backslash.
func specialIn(x uint64) bool {
	ctl := (x - 0x20*lsb) & ^x & msb
	q := x ^ '"'*lsb
	bs := x ^ '\\'*lsb
	return ctl|(q-lsb)&^q&msb|(bs-lsb)&^bs&msb != 0
}

// scanString scans the string starting at the quote b[i] and returns the
// index after its closing quote; plain is false when it holds an escape.
func scanString(b []byte, i int) (end int, plain bool, st status) {
	plain = true
	i++
	for {
		// Eight bytes at a time while none of them can end the string: long
		// strings (a forwarded body's base64) are most of a frame.
		for i+8 <= len(b) && !specialIn(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		for i < len(b) && !strSpecial[b[i]] {
			i++
		}
		if i >= len(b) {
			return i, plain, statusEOF
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, plain, statusOK
		case c == '\\':
			plain = false
			if i+1 >= len(b) {
				return i, plain, statusEOF
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := 2; k < 6; k++ {
					if i+k >= len(b) {
						return i, plain, statusEOF
					}
					if !isHex(b[i+k]) {
						return i, plain, statusSyntax
					}
				}
				i += 6
			default:
				return i, plain, statusSyntax
			}
		default: // control character
			return i, plain, statusSyntax
		}
	}
}

func literal(b []byte, i int, lit string) (int, status) {
	n := min(len(lit), len(b)-i)
	if string(b[i:i+n]) != lit[:n] {
		return i, statusSyntax
	}
	if n < len(lit) {
		return len(b), statusEOF
	}
	return i + n, statusOK
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func number(b []byte, i int) (int, status) {
	if b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return i, statusEOF
	}
	switch {
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return i, statusSyntax
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) {
			return i, statusEOF
		}
		if !isDigit(b[i]) {
			return i, statusSyntax
		}
		i = digits(b, i)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) {
			return i, statusEOF
		}
		if !isDigit(b[i]) {
			return i, statusSyntax
		}
		i = digits(b, i)
	}
	// A number only ends the input in partial mode; a complete document
	// continues with a delimiter the caller checks.
	return i, statusOK
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

func skipWS(b []byte, i int) int {
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

func ascii(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

func printableASCII(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

func equalFoldASCII(b []byte, s string) bool {
	return len(b) == len(s) && bytes.EqualFold(b, []byte(s))
}
