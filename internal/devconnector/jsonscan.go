package devconnector

import (
	"bytes"
	"encoding/json"
)

// A minimal scanner over JSON that json.Valid accepted. It exists because
// the interaction path runs tens of thousands of times per second in
// benchmarks and only needs a handful of keys (and to cut one member out)
// from bodies it must otherwise forward untouched. Every function is safe on
// any input: on invalid JSON it returns early, never panics.

// eachMember calls fn with the raw key (quotes included) and raw value of
// every member of the JSON object obj, and the span [start, end) of the
// member. It returns false if obj is not an object.
func eachMember(obj []byte, fn func(key, val []byte, start, end int)) bool {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return false
	}
	i = skipSpace(obj, i+1)
	for i < len(obj) && obj[i] == '"' {
		start := i
		kEnd := skipString(obj, i)
		key := obj[start:kEnd]
		i = skipSpace(obj, kEnd)
		if i >= len(obj) || obj[i] != ':' {
			return true
		}
		vStart := skipSpace(obj, i+1)
		vEnd := skipValue(obj, vStart)
		if vEnd <= vStart {
			return true
		}
		fn(key, obj[vStart:vEnd], start, vEnd)
		i = skipSpace(obj, vEnd)
		if i < len(obj) && obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
	return true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// keyIs reports whether a raw JSON key (quotes included) is name.
func keyIs(key []byte, name string) bool {
	if len(key) >= 2 && bytes.IndexByte(key, '\\') < 0 {
		return string(key[1:len(key)-1]) == name
	}
	var k string
	return json.Unmarshal(key, &k) == nil && k == name
}

// keyIsFold is keyIs ignoring ASCII and Unicode case.
func keyIsFold(key []byte, name string) bool {
	if len(key) >= 2 && bytes.IndexByte(key, '\\') < 0 {
		return bytes.EqualFold(key[1:len(key)-1], []byte(name))
	}
	var k string
	return json.Unmarshal(key, &k) == nil && bytes.EqualFold([]byte(k), []byte(name))
}

// scalar returns a JSON string's value or a JSON number's text; anything
// else is "".
func scalar(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch c := raw[0]; {
	case c == '"':
		if len(raw) >= 2 && raw[len(raw)-1] == '"' && bytes.IndexByte(raw, '\\') < 0 {
			return string(raw[1 : len(raw)-1])
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case c == '-' || c >= '0' && c <= '9':
		var n json.Number
		if json.Unmarshal(raw, &n) == nil {
			return n.String()
		}
	}
	return ""
}

// withoutMembers returns obj without the members whose key matches drop,
// and whether any was dropped. Kept members are copied byte for byte.
func withoutMembers(obj []byte, drop func(key []byte) bool) ([]byte, bool) {
	var kept [][2]int
	dropped := false
	eachMember(obj, func(key, _ []byte, start, end int) {
		if drop(key) {
			dropped = true
			return
		}
		kept = append(kept, [2]int{start, end})
	})
	if !dropped {
		return obj, false
	}
	out := make([]byte, 0, len(obj))
	out = append(out, '{')
	for i, m := range kept {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, obj[m[0]:m[1]]...)
	}
	return append(out, '}'), true
}
