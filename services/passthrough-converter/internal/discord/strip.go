package discord

import (
	"bytes"
	"encoding/json"
	"strings"
)

// StripToken returns body without its top-level interaction token and
// reports whether one was present, so that a body can be kept (for example
// dead-lettered) without the credential.
//
// Every top-level member whose key is "token" in any letter case is removed
// (encoding/json matches keys case-insensitively, so a "Token" key would
// reach a Go decoder's token field just the same). The removal is done in
// place on a copy: all other bytes, including member order, whitespace,
// number spelling and duplicate keys, are kept exactly. Nested "token" keys
// are not touched.
//
// A body that is not a JSON object (not JSON, an array, truncated) is
// returned unchanged with false: there is no top-level member to remove,
// and the caller decides what to do with bytes it cannot parse. StripToken
// never panics and does not modify body. It is safe for concurrent use.
func StripToken(body []byte) ([]byte, bool) {
	t := bytes.TrimLeft(body, " \t\r\n")
	if len(t) == 0 || t[0] != '{' || !json.Valid(body) {
		return body, false
	}
	spans, ok := memberSpans(body)
	if !ok {
		return body, false
	}
	removed := false
	for _, s := range spans {
		if s.token {
			removed = true
			break
		}
	}
	if !removed {
		return body, false
	}
	// Rebuild: the bytes before the first member, the kept members with
	// the separator that originally preceded each one, then the bytes
	// after the last member. Each separator holds exactly one comma.
	out := make([]byte, 0, len(body))
	out = append(out, body[:spans[0].start]...)
	first := true
	for i, s := range spans {
		if s.token {
			continue
		}
		if !first {
			out = append(out, body[spans[i-1].end:s.start]...)
		}
		first = false
		out = append(out, body[s.start:s.end]...)
	}
	out = append(out, body[spans[len(spans)-1].end:]...)
	return out, true
}

// memberSpan is the byte range of one top-level member, from the opening
// quote of its key to the end of its value.
type memberSpan struct {
	start, end int
	token      bool
}

// memberSpans lists the top-level members of a valid JSON object.
func memberSpans(body []byte) ([]memberSpan, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var spans []memberSpan
	for dec.More() {
		// The key starts at the first '"' after the previous token (which
		// skips whitespace and the separating comma).
		off := int(dec.InputOffset())
		rel := bytes.IndexByte(body[off:], '"')
		if rel < 0 {
			return nil, false
		}
		start := off + rel
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		key, ok := tok.(string)
		if !ok {
			return nil, false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		spans = append(spans, memberSpan{start: start, end: int(dec.InputOffset()), token: strings.EqualFold(key, "token")})
	}
	if len(spans) == 0 {
		return nil, false
	}
	return spans, true
}
