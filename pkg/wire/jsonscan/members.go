package jsonscan

// Members calls fn, in order, for each member of the JSON object that is
// the whole of b (JSON whitespace around it allowed): key is the raw key
// literal (quotes included, see KeyIs and Unquote), val the raw value, and
// [start, end) the member's span in b, from the key's opening quote to the
// end of the value. It reports whether b is one valid JSON object, exactly
// as json.Valid would with a '{' first; when it is not, fn may already have
// been called for the members before the fault. Duplicate keys are all
// reported (encoding/json keeps the last).
func Members(b []byte, fn func(key, val []byte, start, end int)) bool {
	i := SkipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = SkipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return SkipSpace(b, i+1) == len(b)
	}
	for {
		start := i
		kEnd, vs, st := key(b, i)
		if st != OK {
			return false
		}
		end, st := Value(b, vs, MaxDepth-1)
		if st != OK {
			return false
		}
		fn(b[start:kEnd], b[vs:end], start, end)
		i = SkipSpace(b, end)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = SkipSpace(b, i+1)
		case '}':
			return SkipSpace(b, i+1) == len(b)
		default:
			return false
		}
	}
}

// WithoutKey returns the JSON object b without its top-level members whose
// key matches name as encoding/json matches an object key to a struct
// field (after unescaping, case-insensitively: KeyIs with fold), and
// reports whether it removed any. It is how a credential (a Discord
// interaction's "token") is cut from a body that must be kept or
// forwarded: a Go decoder would read a "Token" key into a token field just
// the same.
//
// Every other byte is kept: member order, whitespace, number spelling,
// duplicate keys, and the separator that preceded each kept member (each
// holds exactly one comma). Nested members are not touched. Input that is
// not one valid JSON object (not JSON, an array, truncated, trailing bytes)
// is returned unchanged with false. b is never modified; the result is a
// new slice when something was removed.
func WithoutKey(b []byte, name string) ([]byte, bool) {
	var buf [16]Span
	spans := buf[:0]
	removed := false
	ok := Members(b, func(key, _ []byte, start, end int) {
		drop := KeyIs(key, name, true)
		removed = removed || drop
		spans = append(spans, Span{Start: start, End: end, Drop: drop})
	})
	if !ok || !removed {
		return b, false
	}
	return Splice(b, spans), true
}

// Span is a member or element of a JSON object or array, [Start, End) in
// the container's bytes (a member from its key's opening quote to the end
// of its value, as [Members] reports it), and what [Splice] makes of it:
// Drop removes it, a non-nil Repl replaces it, otherwise it is kept.
type Span struct {
	Start, End int
	Drop       bool
	Repl       []byte
}

// Splice returns the container b with spans, all of its members or
// elements in order, dropped or replaced: the bytes before the first
// member, the kept ones each with the separator that originally preceded
// it, then the bytes after the last member. With no spans it returns b;
// otherwise a new slice (b is never modified).
func Splice(b []byte, spans []Span) []byte {
	if len(spans) == 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	out = append(out, b[:spans[0].Start]...)
	first := true
	for k, s := range spans {
		if s.Drop {
			continue
		}
		if !first {
			out = append(out, b[spans[k-1].End:s.Start]...)
		}
		first = false
		if s.Repl != nil {
			out = append(out, s.Repl...)
		} else {
			out = append(out, b[s.Start:s.End]...)
		}
	}
	return append(out, b[spans[len(spans)-1].End:]...)
}

// Find returns the raw value of the first top-level member of the JSON
// object b whose key is exactly name (no case folding), or nil. It stops
// at that member: what follows is not validated, so it is for reading a
// hint out of a document that is validated elsewhere (or whose hint
// does not matter when the document is bad), not for deciding validity.
func Find(b []byte, name string) []byte {
	i := SkipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil
	}
	i = SkipSpace(b, i+1)
	for i < len(b) && b[i] != '}' {
		kEnd, vs, st := key(b, i)
		if st != OK {
			return nil
		}
		end, st := Value(b, vs, MaxDepth-1)
		if st != OK {
			return nil
		}
		if KeyIs(b[i:kEnd], name, false) {
			return b[vs:end]
		}
		i = SkipSpace(b, end)
		if i >= len(b) || b[i] != ',' {
			return nil
		}
		i = SkipSpace(b, i+1)
	}
	return nil
}
