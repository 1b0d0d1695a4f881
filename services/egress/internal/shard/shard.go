// Package shard finds the ordering key of an encoded action without
// decoding it: the chat id of a chat-addressed action, else its session key
// (follow_up, interrupt). Egress hands it to the consume loop as the
// message's key, so that one chat's replies go out in the order they were
// published (the loop hashes keys onto workers).
//
// For MessagePack (what the Go client sends) the top-level map is scanned
// and every other value skipped by its length prefix, with no allocation.
// JSON falls back to a small typed decode. An encoding that cannot be read
// yields "" (the action is then rejected by the real decode anyway).
package shard

import (
	"encoding/binary"
	"encoding/json"

	"github.com/relaybus/relaybus/pkg/events"
)

// maxDepth bounds the nesting the scanner skips through.
const maxDepth = 32

// Key returns the ordering key of an action encoded in contentType
// (MessagePack when empty): chat_id when present and a non-empty string,
// else session_key, else "".
func Key(data []byte, contentType string) string {
	switch contentType {
	case events.ContentTypeMsgpack, "":
		return msgpackKey(data)
	case events.ContentTypeJSON:
		var v struct {
			ChatID     any `json:"chat_id"`
			SessionKey any `json:"session_key"`
		}
		if json.Unmarshal(data, &v) != nil {
			return ""
		}
		if s, ok := v.ChatID.(string); ok && s != "" {
			return s
		}
		s, _ := v.SessionKey.(string)
		return s
	}
	return ""
}

func msgpackKey(b []byte) string {
	n, pos, ok := mapLen(b, 0)
	if !ok {
		return ""
	}
	var session string
	for range n {
		k, next, ok := str(b, pos)
		if !ok {
			return "" // a non-string key: not an action
		}
		pos = next
		if key := string(k); key == "chat_id" || key == "session_key" {
			if v, next, ok := str(b, pos); ok {
				if key == "chat_id" && len(v) > 0 {
					return string(v)
				}
				if key == "session_key" {
					session = string(v)
				}
				pos = next
				continue
			}
		}
		if pos, ok = skip(b, pos, 0); !ok {
			return session
		}
	}
	return session
}

// mapLen reads a map header at pos.
func mapLen(b []byte, pos int) (n, next int, ok bool) {
	if pos >= len(b) {
		return 0, 0, false
	}
	c := b[pos]
	switch {
	case c >= 0x80 && c <= 0x8f:
		return int(c & 0x0f), pos + 1, true
	case c == 0xde:
		if pos+3 > len(b) {
			return 0, 0, false
		}
		return int(binary.BigEndian.Uint16(b[pos+1:])), pos + 3, true
	case c == 0xdf:
		if pos+5 > len(b) {
			return 0, 0, false
		}
		return int(binary.BigEndian.Uint32(b[pos+1:])), pos + 5, true
	}
	return 0, 0, false
}

// str reads a string at pos (without copying it).
func str(b []byte, pos int) ([]byte, int, bool) {
	if pos >= len(b) {
		return nil, 0, false
	}
	c := b[pos]
	var l, h int
	switch {
	case c >= 0xa0 && c <= 0xbf:
		l, h = int(c&0x1f), 1
	case c == 0xd9:
		if pos+2 > len(b) {
			return nil, 0, false
		}
		l, h = int(b[pos+1]), 2
	case c == 0xda:
		if pos+3 > len(b) {
			return nil, 0, false
		}
		l, h = int(binary.BigEndian.Uint16(b[pos+1:])), 3
	case c == 0xdb:
		if pos+5 > len(b) {
			return nil, 0, false
		}
		l, h = int(binary.BigEndian.Uint32(b[pos+1:])), 5
	default:
		return nil, 0, false
	}
	start := pos + h
	if l < 0 || start+l > len(b) || start+l < start {
		return nil, 0, false
	}
	return b[start : start+l], start + l, true
}

// skip returns the position after the value at pos.
func skip(b []byte, pos, depth int) (int, bool) {
	if pos >= len(b) || depth > maxDepth {
		return 0, false
	}
	c := b[pos]
	// size reads an n-byte big-endian length after the type byte.
	size := func(n int) (int, bool) {
		if pos+1+n > len(b) {
			return 0, false
		}
		switch n {
		case 1:
			return int(b[pos+1]), true
		case 2:
			return int(binary.BigEndian.Uint16(b[pos+1:])), true
		default:
			v := binary.BigEndian.Uint32(b[pos+1:])
			if uint64(v) > uint64(len(b)) {
				return 0, false
			}
			return int(v), true
		}
	}
	fixed := func(n int) (int, bool) {
		if pos+n > len(b) {
			return 0, false
		}
		return pos + n, true
	}
	blob := func(lenBytes, extra int) (int, bool) {
		l, ok := size(lenBytes)
		if !ok {
			return 0, false
		}
		return fixed(1 + lenBytes + extra + l)
	}
	items := func(n, start int) (int, bool) {
		p := start
		for range n {
			var ok bool
			if p, ok = skip(b, p, depth+1); !ok {
				return 0, false
			}
		}
		return p, true
	}
	switch {
	case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
		return pos + 1, true
	case c >= 0x80 && c <= 0x8f:
		return items(2*int(c&0x0f), pos+1)
	case c >= 0x90 && c <= 0x9f:
		return items(int(c&0x0f), pos+1)
	case c >= 0xa0 && c <= 0xbf:
		return fixed(1 + int(c&0x1f))
	}
	switch c {
	case 0xc4, 0xd9:
		return blob(1, 0)
	case 0xc5, 0xda:
		return blob(2, 0)
	case 0xc6, 0xdb:
		return blob(4, 0)
	case 0xc7:
		return blob(1, 1)
	case 0xc8:
		return blob(2, 1)
	case 0xc9:
		return blob(4, 1)
	case 0xca:
		return fixed(5)
	case 0xcb:
		return fixed(9)
	case 0xcc, 0xd0:
		return fixed(2)
	case 0xcd, 0xd1:
		return fixed(3)
	case 0xce, 0xd2:
		return fixed(5)
	case 0xcf, 0xd3:
		return fixed(9)
	case 0xd4:
		return fixed(3)
	case 0xd5:
		return fixed(4)
	case 0xd6:
		return fixed(6)
	case 0xd7:
		return fixed(10)
	case 0xd8:
		return fixed(18)
	case 0xdc, 0xdd, 0xde, 0xdf:
		lb := 2
		if c == 0xdd || c == 0xdf {
			lb = 4
		}
		n, ok := size(lb)
		if !ok {
			return 0, false
		}
		if c == 0xde || c == 0xdf {
			n *= 2
		}
		if n > len(b) { // every item takes at least one byte
			return 0, false
		}
		return items(n, pos+1+lb)
	}
	return 0, false // 0xc1 is never used
}
