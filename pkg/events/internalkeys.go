package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// InternalKeyPrefix starts every metadata key that is the gateway's own
// bookkeeping (reply markers, routing hints). Such keys may travel on the
// bus, but never reach the connector (contract §6 "Internal markers").
const InternalKeyPrefix = "_"

// IsInternalKey reports whether a metadata key is an internal marker.
func IsInternalKey(k string) bool { return strings.HasPrefix(k, InternalKeyPrefix) }

// StripInternalMetadata removes every internal key from the "metadata"
// object of an action JSON object and reports how many it removed. Key
// order and the bytes of every other value are kept. An action with no
// '"_' (nor an escaped underscore) anywhere is returned as it is after one
// byte search: the common case costs no parse.
//
// An action that is not a JSON object, or whose metadata is not one, is an
// error; callers validated the action already, so this is a bug or a
// forged request, and the frame must not be written.
func StripInternalMetadata(action []byte) ([]byte, int, error) {
	if !bytes.Contains(action, []byte(`"_`)) && !bytes.Contains(action, []byte(`\u005`)) {
		return action, 0, nil
	}
	top, err := objectMembers(action)
	if err != nil {
		return nil, 0, err
	}
	removed := 0
	for i := range top {
		if top[i].key != "metadata" {
			continue
		}
		if bytes.Equal(bytes.TrimSpace(top[i].value), []byte("null")) {
			continue
		}
		md, err := objectMembers(top[i].value)
		if err != nil {
			return nil, 0, errors.New("metadata: " + err.Error())
		}
		kept := md[:0]
		for _, m := range md {
			if IsInternalKey(m.key) {
				removed++
				continue
			}
			kept = append(kept, m)
		}
		top[i].value = appendMembers(nil, kept)
	}
	if removed == 0 {
		return action, 0, nil
	}
	return appendMembers(make([]byte, 0, len(action)), top), removed, nil
}

// member is one key of a JSON object: its raw key (as written, quotes
// included), its decoded name and its raw value.
type member struct {
	raw   json.RawMessage
	key   string
	value json.RawMessage
}

// objectMembers splits a JSON object into its members, in order.
func objectMembers(b []byte) ([]member, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '{' {
		return nil, errors.New("not a JSON object")
	}
	var out []member
	for d.More() {
		start := d.InputOffset()
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errors.New("object key is not a string")
		}
		raw := bytes.TrimLeft(b[start:d.InputOffset()], " \t\r\n,")
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, member{raw: raw, key: key, value: v})
	}
	if _, err := d.Token(); err != nil {
		return nil, err
	}
	if len(trimJSONSpace(b[d.InputOffset():])) != 0 {
		return nil, errors.New("trailing data after the JSON object")
	}
	return out, nil
}

// appendMembers writes members as a compact JSON object.
func appendMembers(dst []byte, ms []member) []byte {
	dst = append(dst, '{')
	for i, m := range ms {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, m.raw...)
		dst = append(dst, ':')
		dst = append(dst, m.value...)
	}
	return append(dst, '}')
}
