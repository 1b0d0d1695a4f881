// Package sniff is ws-edge's fast path for classifying connector frames.
//
// wire.DecodeFrame is the definition of a well-formed frame, but it decodes
// with encoding/json, which costs tens of microseconds for a frame carrying a
// few kilobytes of base64 (a Discord interaction). ws-edge only needs the
// envelope of a data frame (its type and bufferId) to publish it, so Frame
// validates the whole frame in one pass with the relay's one JSON scanner
// (pkg/wire/jsonscan, which agrees with encoding/json) and extracts just
// those two keys.
//
// Frame is conservative by construction: it answers ok only when it is
// certain that wire.DecodeFrame accepts the frame with the same type and
// bufferId, and the type is not a control frame. Anything unusual (escapes or
// non-ASCII bytes in a key, type or bufferId; a key that matches a frame field
// only case-insensitively; a repeated frame field; a wrong JSON kind; deep
// nesting; trailing bytes) makes it answer !ok, and the caller falls back to
// wire.DecodeFrame, which then has the final word, including the reason of
// a rejection. A differential fuzz test holds the two to that agreement.
package sniff

import (
	"bytes"

	"github.com/relaybus/relaybus/pkg/wire/jsonscan"
)

// maxDepth bounds the nesting of a top-level value; deeper documents go to
// the slow path (which has encoding/json's limit).
const maxDepth = 512

// frame fields the fast path knows (wire.Frame's JSON keys).
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
// that wire.DecodeFrame accepts, and returns its type and bufferId as
// sub-slices of b (bufferID is nil when absent). See the package comment for
// when it answers !ok.
func Frame(b []byte) (typ, bufferID []byte, ok bool) {
	var e envelope
	i, st := e.scan(b, false)
	if st != jsonscan.OK {
		return nil, nil, false
	}
	if jsonscan.SkipSpace(b, i) != len(b) || len(e.typ) == 0 {
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
	if _, st := e.scan(b, true); st == jsonscan.Syntax {
		return "", ""
	}
	return string(e.typ), string(e.bufferID)
}

// scan reads the top-level object at the start of b. With partial set, input
// that ends early stops the scan with jsonscan.EOF and keeps what was learnt.
func (e *envelope) scan(b []byte, partial bool) (int, jsonscan.Status) {
	i := jsonscan.SkipSpace(b, 0)
	if i >= len(b) {
		return i, jsonscan.EOF
	}
	if b[i] != '{' {
		return i, jsonscan.Syntax
	}
	i = jsonscan.SkipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, jsonscan.OK
	}
	for {
		if i >= len(b) {
			return i, jsonscan.EOF
		}
		if b[i] != '"' {
			return i, jsonscan.Syntax
		}
		ks := i + 1
		end, plain, st := jsonscan.String(b, i)
		if st != jsonscan.OK {
			return end, st
		}
		key := b[ks : end-1]
		field := fieldNone
		if !plain || !ascii(key) {
			// An escaped or non-ASCII key could still name a field
			// (encoding/json unescapes and folds case): slow path.
			return end, jsonscan.Syntax
		}
		for f := fieldType; f < numFields; f++ {
			if string(key) == fieldNames[f] {
				field = f
				break
			}
			if equalFoldASCII(key, fieldNames[f]) {
				return end, jsonscan.Syntax
			}
		}
		if field != fieldNone && e.seen[field] {
			return end, jsonscan.Syntax // encoding/json keeps the last; let it decide
		}
		i = jsonscan.SkipSpace(b, end)
		if i >= len(b) {
			return i, jsonscan.EOF
		}
		if b[i] != ':' {
			return i, jsonscan.Syntax
		}
		i = jsonscan.SkipSpace(b, i+1)
		if i >= len(b) {
			return i, jsonscan.EOF
		}
		vs := i
		i, st = e.value(b, i, field)
		if st != jsonscan.OK {
			if st == jsonscan.EOF && !partial {
				st = jsonscan.Syntax
			}
			return i, st
		}
		if field != fieldNone {
			e.seen[field] = true
			e.first[field] = b[vs]
		}
		i = jsonscan.SkipSpace(b, i)
		if i >= len(b) {
			return i, jsonscan.EOF
		}
		switch b[i] {
		case ',':
			i = jsonscan.SkipSpace(b, i+1)
		case '}':
			return i + 1, jsonscan.OK
		default:
			return i, jsonscan.Syntax
		}
	}
}

// value scans the value of a top-level key, checking the JSON kind the
// frame field wants.
func (e *envelope) value(b []byte, i, field int) (int, jsonscan.Status) {
	c := b[i]
	switch field {
	case fieldType, fieldBufferID:
		if c == 'n' && field == fieldBufferID {
			return jsonscan.Literal(b, i, "null")
		}
		if c != '"' {
			return i, jsonscan.Syntax
		}
		end, plain, st := jsonscan.String(b, i)
		if st != jsonscan.OK {
			return end, st
		}
		v := b[i+1 : end-1]
		if !plain || !printableASCII(v) {
			return end, jsonscan.Syntax
		}
		if field == fieldType {
			e.typ = v
		} else {
			e.bufferID = v
		}
		return end, jsonscan.OK
	case fieldRequestID, fieldSessionKey, fieldChatID:
		if c == 'n' {
			return jsonscan.Literal(b, i, "null")
		}
		if c != '"' {
			return i, jsonscan.Syntax
		}
		end, _, st := jsonscan.String(b, i)
		if st == jsonscan.OK && field == fieldSessionKey {
			e.sessionKey = end-i > 2
		}
		return end, st
	}
	return jsonscan.Value(b, i, maxDepth)
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
