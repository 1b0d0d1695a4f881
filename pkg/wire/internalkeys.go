package wire

import (
	"bytes"
	"errors"
	"strings"

	"github.com/relaybus/relaybus/pkg/wire/jsonscan"
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
// An action that is not one JSON object is an error (the frame must not be
// written); a metadata that is not an object holds no keys to strip and is
// left as it is, whether or not the action holds '"_' elsewhere.
func StripInternalMetadata(action []byte) ([]byte, int, error) {
	if !bytes.Contains(action, []byte(`"_`)) && !bytes.Contains(action, []byte(`\u005`)) {
		return action, 0, nil
	}
	var top []member
	if !jsonscan.Members(action, func(k, v []byte, _, _ int) { top = append(top, member{k, v}) }) {
		return nil, 0, errors.New("not one JSON object")
	}
	removed := 0
	for i := range top {
		if !jsonscan.KeyIs(top[i].key, "metadata", false) || top[i].value[0] != '{' {
			continue // not the metadata, or one that holds no keys (null, or a bad value egress rejects)
		}
		var kept []member
		if !jsonscan.Members(top[i].value, func(k, v []byte, _, _ int) {
			if name, _ := jsonscan.Unquote(k); IsInternalKey(name) {
				removed++
				return
			}
			kept = append(kept, member{k, v})
		}) {
			return nil, 0, errors.New("metadata: not a JSON object")
		}
		top[i].value = appendMembers(nil, kept)
	}
	if removed == 0 {
		return action, 0, nil
	}
	return appendMembers(make([]byte, 0, len(action)), top), removed, nil
}

// member is one member of a JSON object: its raw key literal (quotes
// included) and its raw value.
type member struct{ key, value []byte }

// appendMembers writes members as a compact JSON object.
func appendMembers(dst []byte, ms []member) []byte {
	dst = append(dst, '{')
	for i, m := range ms {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, m.key...)
		dst = append(dst, ':')
		dst = append(dst, m.value...)
	}
	return append(dst, '}')
}
