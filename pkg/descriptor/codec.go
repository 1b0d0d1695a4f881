package descriptor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// requiredKeys are the keys a descriptor must carry, in contract order; the
// first one missing is the one an error names.
var requiredKeys = []string{
	"contract_version",
	"platform",
	"label",
	"max_message_length",
	"supports_draft_streaming",
	"supports_edit",
	"supports_threads",
	"markdown_dialect",
	"len_unit",
}

// Decode parses a descriptor JSON object (the "descriptor" of a descriptor
// frame, or a relay_descriptor KV value) the way the reference gateway does,
// with the contract's coercions:
//
//   - a missing required key is an error wrapping [ErrMissingKey];
//   - absent optional keys (and optional keys set to null) take their
//     defaults: emoji [DefaultEmoji], platform_hint "", pii_safe,
//     supports_context and supports_block_formatting false, supported_ops
//     none;
//   - unknown keys are ignored (forward compatibility); keys match exactly,
//     case included, and a repeated key keeps its last value;
//   - max_message_length that is not a positive integer (≤ 0, a string, a
//     number with a fraction or out of range, a bool, null) becomes
//     [DefaultMaxMessageLength]; an integral number such as 2000.0 is fine;
//   - supported_ops that is not a list becomes empty; in a list, entries
//     that are not strings are dropped, strings are trimmed, and empty or
//     repeated ones are dropped (first occurrence kept);
//   - any other key holding the wrong JSON type is an error wrapping
//     [ErrBadKey] that names the key;
//   - input that is not a JSON object is an error wrapping [ErrNotObject].
//
// Decode never panics.
func Decode(raw []byte) (Descriptor, error) {
	var d Descriptor
	// The messages are ours alone (not encoding/json's), so they stay stable.
	if !json.Valid(raw) {
		return d, fmt.Errorf("%w: invalid JSON", ErrNotObject)
	}
	if trimmed := bytes.TrimSpace(raw); trimmed[0] != '{' {
		return d, fmt.Errorf("%w: got %s", ErrNotObject, kindOf(trimmed))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return d, fmt.Errorf("%w: invalid JSON", ErrNotObject) // unreachable: raw is a valid object
	}
	for _, k := range requiredKeys {
		if _, ok := m[k]; !ok {
			return d, fmt.Errorf("%w %q", ErrMissingKey, k)
		}
	}

	var err error
	if d.ContractVersion, err = decodeInt("contract_version", m["contract_version"]); err != nil {
		return Descriptor{}, err
	}
	d.MaxMessageLength = DefaultMaxMessageLength
	if n, ok := integer(m["max_message_length"]); ok && n > 0 {
		d.MaxMessageLength = n
	}
	strs := []struct {
		key      string
		dst      *string
		optional bool
		def      string
	}{
		{"platform", &d.Platform, false, ""},
		{"label", &d.Label, false, ""},
		{"markdown_dialect", &d.MarkdownDialect, false, ""},
		{"len_unit", &d.LenUnit, false, ""},
		{"emoji", &d.Emoji, true, DefaultEmoji},
		{"platform_hint", &d.PlatformHint, true, ""},
	}
	for _, s := range strs {
		v, ok := m[s.key]
		if s.optional && (!ok || isNull(v)) {
			*s.dst = s.def
			continue
		}
		if *s.dst, err = decodeString(s.key, v); err != nil {
			return Descriptor{}, err
		}
	}
	bools := []struct {
		key      string
		dst      *bool
		optional bool
	}{
		{"supports_draft_streaming", &d.SupportsDraftStreaming, false},
		{"supports_edit", &d.SupportsEdit, false},
		{"supports_threads", &d.SupportsThreads, false},
		{"pii_safe", &d.PIISafe, true},
		{"supports_context", &d.SupportsContext, true},
		{"supports_block_formatting", &d.SupportsBlockFormatting, true},
	}
	for _, b := range bools {
		v, ok := m[b.key]
		if b.optional && (!ok || isNull(v)) {
			continue
		}
		if *b.dst, err = decodeBool(b.key, v); err != nil {
			return Descriptor{}, err
		}
	}
	d.SupportedOps = coerceOps(m["supported_ops"])
	return d, nil
}

// UnmarshalJSON decodes a descriptor with [Decode], so a Descriptor can be a
// field of a larger JSON document. A JSON null leaves d unchanged, following
// the encoding/json convention.
func (d *Descriptor) UnmarshalJSON(b []byte) error {
	if isNull(b) {
		return nil
	}
	v, err := Decode(b)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalJSON returns the canonical JSON of the descriptor: one compact
// object holding every key of contract version 1 in sorted key order (the
// order of the reference's sort_keys=True), supported_ops always a list
// (never null), strings escaped exactly as encoding/json escapes them. It is
// what ws-edge stores in the relay_descriptor bucket; json.Marshal(d) gives
// the same bytes.
func (d Descriptor) MarshalJSON() ([]byte, error) {
	return d.AppendJSON(make([]byte, 0, 384)), nil
}

// AppendJSON appends the canonical JSON of [Descriptor.MarshalJSON] to dst.
func (d Descriptor) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"contract_version":`...)
	dst = strconv.AppendInt(dst, int64(d.ContractVersion), 10)
	dst = append(dst, `,"emoji":`...)
	dst = appendString(dst, d.Emoji)
	dst = append(dst, `,"label":`...)
	dst = appendString(dst, d.Label)
	dst = append(dst, `,"len_unit":`...)
	dst = appendString(dst, d.LenUnit)
	dst = append(dst, `,"markdown_dialect":`...)
	dst = appendString(dst, d.MarkdownDialect)
	dst = append(dst, `,"max_message_length":`...)
	dst = strconv.AppendInt(dst, int64(d.MaxMessageLength), 10)
	dst = append(dst, `,"pii_safe":`...)
	dst = strconv.AppendBool(dst, d.PIISafe)
	dst = append(dst, `,"platform":`...)
	dst = appendString(dst, d.Platform)
	dst = append(dst, `,"platform_hint":`...)
	dst = appendString(dst, d.PlatformHint)
	dst = append(dst, `,"supported_ops":[`...)
	for i, op := range d.SupportedOps {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, op)
	}
	dst = append(dst, `],"supports_block_formatting":`...)
	dst = strconv.AppendBool(dst, d.SupportsBlockFormatting)
	dst = append(dst, `,"supports_context":`...)
	dst = strconv.AppendBool(dst, d.SupportsContext)
	dst = append(dst, `,"supports_draft_streaming":`...)
	dst = strconv.AppendBool(dst, d.SupportsDraftStreaming)
	dst = append(dst, `,"supports_edit":`...)
	dst = strconv.AppendBool(dst, d.SupportsEdit)
	dst = append(dst, `,"supports_threads":`...)
	dst = strconv.AppendBool(dst, d.SupportsThreads)
	return append(dst, '}')
}

// appendString appends s as a JSON string, escaped as encoding/json does
// (HTML characters and U+2028/U+2029 included, invalid UTF-8 replaced), so
// that json.Marshal of a Descriptor, which re-compacts MarshalJSON's output
// with HTML escaping, yields the same bytes.
func appendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always marshals
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

func isNull(v []byte) bool { return string(bytes.TrimSpace(v)) == "null" }

// kindOf names the JSON type of a valid, trimmed JSON value for an error.
func kindOf(v []byte) string {
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

func badKey(key, want string, v []byte) error {
	return fmt.Errorf("%w %q: want %s, got %s", ErrBadKey, key, want, kindOf(bytes.TrimSpace(v)))
}

func decodeString(key string, v json.RawMessage) (string, error) {
	s, ok := jsonString(v)
	if !ok {
		return "", badKey(key, "string", v)
	}
	return s, nil
}

// jsonString decodes a valid JSON value that should be a string.
func jsonString(v []byte) (string, bool) {
	t := bytes.TrimSpace(v)
	if len(t) < 2 || t[0] != '"' {
		return "", false
	}
	// Fast path: no escapes, control characters or non-ASCII to normalize.
	inner := t[1 : len(t)-1]
	simple := true
	for _, c := range inner {
		if c < 0x20 || c == '\\' || c == '"' || c >= utf8.RuneSelf {
			simple = false
			break
		}
	}
	if simple {
		return string(inner), true
	}
	var s string
	if json.Unmarshal(t, &s) != nil {
		return "", false
	}
	return s, true
}

func decodeBool(key string, v json.RawMessage) (bool, error) {
	switch string(bytes.TrimSpace(v)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, badKey(key, "bool", v)
}

func decodeInt(key string, v json.RawMessage) (int, error) {
	n, ok := integer(v)
	if !ok {
		t := bytes.TrimSpace(v)
		if kindOf(t) == "number" {
			return 0, fmt.Errorf("%w %q: want integer, got %s", ErrBadKey, key, t)
		}
		return 0, badKey(key, "integer", v)
	}
	return n, nil
}

// integer returns the value of a JSON number that is an integer within the
// range of int (1, -3, 2000.0 and 2e3 are; 1.5, 1e30, "2", true and null are
// not).
func integer(v json.RawMessage) (int, bool) {
	t := bytes.TrimSpace(v)
	if len(t) == 0 || (t[0] != '-' && (t[0] < '0' || t[0] > '9')) {
		return 0, false
	}
	s := string(t)
	if n, err := strconv.ParseInt(s, 10, strconv.IntSize); err == nil {
		return int(n), true
	}
	f, err := strconv.ParseFloat(s, 64)
	// float64(math.MaxInt) rounds up to 2^63 (or 2^31), which is already out of
	// range, hence < rather than <=.
	if err != nil || f != math.Trunc(f) || f < math.MinInt || f >= math.MaxInt {
		return 0, false
	}
	return int(f), true
}

// coerceOps normalizes supported_ops: a non-list yields nil; non-string
// entries are dropped; strings are trimmed; empty and repeated names are
// dropped, keeping the first occurrence.
func coerceOps(v json.RawMessage) []string {
	var items []json.RawMessage
	if t := bytes.TrimSpace(v); len(t) == 0 || t[0] != '[' || json.Unmarshal(t, &items) != nil {
		return nil
	}
	var ops []string
	for _, it := range items {
		s, ok := jsonString(it)
		if !ok {
			continue
		}
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(ops, s) {
			ops = append(ops, s)
		}
	}
	return ops
}
