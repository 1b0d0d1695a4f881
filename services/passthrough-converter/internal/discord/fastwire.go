package discord

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// The fast decoders below read the wire types in one pass, without
// reflection, for the bodies Discord actually sends. encoding/json checks a
// document in one pass and decodes it in another, through reflection: for a
// 2–3 KB interaction that was the converter's largest cost.
//
// Each reads a strict subset of what encoding/json accepts and, on that
// subset, produces exactly what json.Unmarshal produces into a zero value
// (FuzzFastDecoders compares the two). Whenever the input leaves the subset
// — a key in another case or with escapes that could fold onto a known
// field, a known key twice, a value of the wrong JSON type, a number that
// is not a plain integer for an int field, nesting deeper than
// fastMaxDepth, any syntax error — the decoder reports false and the caller
// uses encoding/json, which also produces the precise error. Skipped values
// are validated, so a document the fast path accepts is one encoding/json
// accepts.

// fastMaxDepth bounds the fast decoders' nesting (encoding/json's own
// limit, 10000, is then enforced by the general path).
const fastMaxDepth = 128

// fastDecodeInteraction decodes body into a zero *in.
func fastDecodeInteraction(body []byte, in *wireInteraction) bool {
	r := jsonReader{b: body}
	return r.document(func() bool { return r.interaction(in) })
}

// fastDecodeResolved decodes raw into a zero *res.
func fastDecodeResolved(raw []byte, res *wireResolved) bool {
	r := jsonReader{b: raw}
	return r.document(func() bool { return r.resolved(res) })
}

// fastDecodeComponents decodes raw into a nil *comps.
func fastDecodeComponents(raw []byte, comps *[]wireComponent) bool {
	r := jsonReader{b: raw}
	return r.document(func() bool { return r.components(comps) })
}

// jsonReader is a cursor over one JSON document.
type jsonReader struct {
	b     []byte
	i     int
	depth int
}

// document reads one value with value and requires only whitespace after it.
func (r *jsonReader) document(value func() bool) bool {
	r.ws()
	if !value() {
		return false
	}
	r.ws()
	return r.i == len(r.b)
}

func (r *jsonReader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\r', '\n':
			r.i++
		default:
			return
		}
	}
}

func (r *jsonReader) peek() byte {
	if r.i < len(r.b) {
		return r.b[r.i]
	}
	return 0
}

// null consumes a null literal if one is next.
func (r *jsonReader) null() bool {
	if len(r.b)-r.i >= 4 && string(r.b[r.i:r.i+4]) == "null" {
		r.i += 4
		return true
	}
	return false
}

// object reads an object, calling member for each key with the reader at
// the value. member returns the field's bit (0: not a field, skip the value)
// and false when the value did not decode. A field's key twice, or an
// unknown key that encoding/json might fold onto a field, ends the fast path.
func (r *jsonReader) object(member func(key []byte) (bit uint64, ok bool)) bool {
	return r.members(member, false)
}

// skipObject passes over an object whose keys cannot be fields: any valid
// key will do.
func (r *jsonReader) skipObject() bool {
	return r.members(func([]byte) (uint64, bool) { return 0, true }, true)
}

func (r *jsonReader) members(member func(key []byte) (bit uint64, ok bool), anyKey bool) bool {
	if r.peek() != '{' || r.depth >= fastMaxDepth {
		return false
	}
	r.i++
	r.depth++
	defer func() { r.depth-- }()
	var seen uint64
	r.ws()
	if r.peek() == '}' {
		r.i++
		return true
	}
	for {
		key, plain, ok := r.key()
		if !ok || !plain && !anyKey {
			return false
		}
		bit, ok := member(key)
		if !ok {
			return false
		}
		if bit == 0 {
			if !r.skip() {
				return false
			}
		} else if seen&bit != 0 {
			return false
		}
		seen |= bit
		r.ws()
		switch r.peek() {
		case ',':
			r.i++
			r.ws()
		case '}':
			r.i++
			return true
		default:
			return false
		}
	}
}

// key reads `"key" :` and leaves the reader at the value. plain reports a
// key that encoding/json could not fold onto a field other than its exact
// match: no escapes, no upper-case letters, ASCII only (it folds U+212A
// KELVIN SIGN onto 'k' and U+017F onto 's').
func (r *jsonReader) key() (key []byte, plain, ok bool) {
	tok, simple, ok := r.stringToken()
	if !ok {
		return nil, false, false
	}
	key = tok[1 : len(tok)-1]
	plain = simple
	for _, c := range key {
		if c >= 'A' && c <= 'Z' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	r.ws()
	if r.peek() != ':' {
		return nil, false, false
	}
	r.i++
	r.ws()
	return key, plain, true
}

// stringToken reads a string literal and returns its raw bytes, quotes
// included, and whether it is simple: no escapes and valid UTF-8, so that
// its content is the bytes between the quotes.
func (r *jsonReader) stringToken() (tok []byte, simple, ok bool) {
	if r.peek() != '"' {
		return nil, false, false
	}
	start := r.i
	simple = true
	ascii := true
	for j := start + 1; j < len(r.b); j++ {
		switch c := r.b[j]; {
		case c == '"':
			r.i = j + 1
			tok = r.b[start:r.i]
			if !ascii && !utf8.Valid(tok) {
				simple = false
			}
			return tok, simple, true
		case c == '\\':
			simple = false
			if j+1 >= len(r.b) {
				return nil, false, false
			}
			switch r.b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				if j+5 >= len(r.b) {
					return nil, false, false
				}
				for _, h := range r.b[j+2 : j+6] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return nil, false, false
					}
				}
				j += 5
			default:
				return nil, false, false
			}
		case c < 0x20:
			return nil, false, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false, false
}

// str decodes a string (null leaves dst alone, as encoding/json does).
func (r *jsonReader) str(dst *string) bool {
	if r.null() {
		return true
	}
	tok, simple, ok := r.stringToken()
	if !ok {
		return false
	}
	if simple {
		*dst = string(tok[1 : len(tok)-1])
		return true
	}
	// Escapes or invalid UTF-8: encoding/json's own rules, on this literal only.
	return json.Unmarshal(tok, dst) == nil
}

// strPtr decodes a string into a new *string (null: nil).
func (r *jsonReader) strPtr(dst **string) bool {
	if r.null() {
		return true
	}
	var s string
	if !r.str(&s) {
		return false
	}
	*dst = &s
	return true
}

// integer decodes a plain integer literal (no fraction or exponent, which
// encoding/json refuses for an int) into *dst; null leaves it alone.
func (r *jsonReader) integer(dst *int64) bool {
	if r.null() {
		return true
	}
	start := r.i
	if r.peek() == '-' {
		r.i++
	}
	digits := r.i
	for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
		r.i++
	}
	n := r.i - digits
	if n == 0 || (n > 1 && r.b[digits] == '0') {
		return false
	}
	if c := r.peek(); c == '.' || c == 'e' || c == 'E' {
		return false
	}
	v, err := strconv.ParseInt(string(r.b[start:r.i]), 10, 64)
	if err != nil {
		return false
	}
	*dst = v
	return true
}

func (r *jsonReader) int(dst *int) bool {
	v := int64(*dst)
	if !r.integer(&v) {
		return false
	}
	*dst = int(v)
	return true
}

func (r *jsonReader) intPtr(dst **int) bool {
	if r.null() {
		return true
	}
	var v int
	if !r.int(&v) {
		return false
	}
	*dst = &v
	return true
}

func (r *jsonReader) boolean(dst *bool) bool {
	switch {
	case r.null():
	case len(r.b)-r.i >= 4 && string(r.b[r.i:r.i+4]) == "true":
		r.i += 4
		*dst = true
	case len(r.b)-r.i >= 5 && string(r.b[r.i:r.i+5]) == "false":
		r.i += 5
		*dst = false
	default:
		return false
	}
	return true
}

// raw copies the next value's bytes, as json.RawMessage does (null is
// "null").
func (r *jsonReader) raw(dst *json.RawMessage) bool {
	start := r.i
	if !r.skip() {
		return false
	}
	*dst = append(json.RawMessage(nil), r.b[start:r.i]...)
	return true
}

// array reads an array, calling elem for each element. It reports whether
// the value was an array (as opposed to null).
func (r *jsonReader) array(elem func() bool) (isArray, ok bool) {
	if r.null() {
		return false, true
	}
	if r.peek() != '[' || r.depth >= fastMaxDepth {
		return false, false
	}
	r.i++
	r.depth++
	defer func() { r.depth-- }()
	r.ws()
	if r.peek() == ']' {
		r.i++
		return true, true
	}
	for {
		if !elem() {
			return true, false
		}
		r.ws()
		switch r.peek() {
		case ',':
			r.i++
			r.ws()
		case ']':
			r.i++
			return true, true
		default:
			return true, false
		}
	}
}

func (r *jsonReader) rawSlice(dst *[]json.RawMessage) bool {
	out := *dst
	isArray, ok := r.array(func() bool {
		var v json.RawMessage
		if !r.raw(&v) {
			return false
		}
		out = append(out, v)
		return true
	})
	if isArray && out == nil {
		out = []json.RawMessage{} // encoding/json: [] is an empty, non-nil slice
	}
	*dst = out
	return ok
}

// mapOf reads an object into a map with fresh values per key (the last of a
// repeated key wins); {} makes an empty map, null leaves it nil.
func mapOf[V any](r *jsonReader, dst *map[string]V, value func(*V) bool) bool {
	if r.null() {
		return true
	}
	if r.peek() != '{' || r.depth >= fastMaxDepth {
		return false
	}
	r.i++
	r.depth++
	defer func() { r.depth-- }()
	m := make(map[string]V)
	*dst = m
	r.ws()
	if r.peek() == '}' {
		r.i++
		return true
	}
	for {
		var k string
		if r.peek() != '"' || !r.str(&k) {
			return false
		}
		r.ws()
		if r.peek() != ':' {
			return false
		}
		r.i++
		r.ws()
		var v V
		if !value(&v) {
			return false
		}
		m[k] = v
		r.ws()
		switch r.peek() {
		case ',':
			r.i++
			r.ws()
		case '}':
			r.i++
			return true
		default:
			return false
		}
	}
}

// skip validates and passes over one value of any kind.
func (r *jsonReader) skip() bool {
	switch c := r.peek(); {
	case c == '"':
		_, _, ok := r.stringToken()
		return ok
	case c == '{':
		return r.skipObject()
	case c == '[':
		_, ok := r.array(r.skip)
		return ok
	case c == '-' || c >= '0' && c <= '9':
		return r.number()
	case c == 't':
		var b bool
		return r.boolean(&b)
	case c == 'f':
		var b bool
		return r.boolean(&b)
	case c == 'n':
		return r.null()
	}
	return false
}

// number passes over a number literal of RFC 8259's grammar.
func (r *jsonReader) number() bool {
	if r.peek() == '-' {
		r.i++
	}
	digits := func() int {
		n := 0
		for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
			r.i++
			n++
		}
		return n
	}
	if r.peek() == '0' {
		r.i++
	} else if digits() == 0 {
		return false
	}
	if r.peek() == '.' {
		r.i++
		if digits() == 0 {
			return false
		}
	}
	if c := r.peek(); c == 'e' || c == 'E' {
		r.i++
		if c := r.peek(); c == '+' || c == '-' {
			r.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}

// The wire types, field by field; each bit names a field for the duplicate
// check.

func (r *jsonReader) interaction(in *wireInteraction) bool {
	return r.object(func(k []byte) (uint64, bool) {
		switch string(k) {
		case "id":
			return 1 << 0, r.strPtr(&in.ID)
		case "application_id":
			return 1 << 1, r.str(&in.ApplicationID)
		case "type":
			return 1 << 2, r.intPtr(&in.Type)
		case "data":
			return 1 << 3, ptr(r, &in.Data, r.data)
		case "guild_id":
			return 1 << 4, r.str(&in.GuildID)
		case "channel_id":
			return 1 << 5, r.str(&in.ChannelID)
		case "channel":
			return 1 << 6, ptr(r, &in.Channel, r.channel)
		case "member":
			return 1 << 7, ptr(r, &in.Member, r.member)
		case "user":
			return 1 << 8, ptr(r, &in.User, r.user)
		case "message":
			return 1 << 9, ptr(r, &in.Message, r.message)
		case "app_permissions":
			return 1 << 10, r.str(&in.AppPermissions)
		case "locale":
			return 1 << 11, r.str(&in.Locale)
		case "guild_locale":
			return 1 << 12, r.str(&in.GuildLocale)
		case "authorizing_integration_owners":
			return 1 << 13, mapOf(r, &in.AuthorizingIntegrationOwners, r.raw)
		case "context":
			return 1 << 14, r.intPtr(&in.Context)
		}
		return 0, true
	})
}

// ptr decodes an object into a new *T (null: nil).
func ptr[T any](r *jsonReader, dst **T, decode func(*T) bool) bool {
	if r.null() {
		return true
	}
	v := new(T)
	if !decode(v) {
		return false
	}
	*dst = v
	return true
}

func (r *jsonReader) data(d *wireData) bool {
	return r.object(func(k []byte) (uint64, bool) {
		switch string(k) {
		case "id":
			return 1 << 0, r.raw(&d.ID)
		case "name":
			return 1 << 1, r.str(&d.Name)
		case "type":
			return 1 << 2, r.int(&d.Type)
		case "options":
			return 1 << 3, r.options(&d.Options)
		case "target_id":
			return 1 << 4, r.str(&d.TargetID)
		case "resolved":
			return 1 << 5, r.raw(&d.Resolved)
		case "custom_id":
			return 1 << 6, r.str(&d.CustomID)
		case "component_type":
			return 1 << 7, r.int(&d.ComponentType)
		case "values":
			return 1 << 8, r.rawSlice(&d.Values)
		case "components":
			return 1 << 9, r.raw(&d.Components)
		}
		return 0, true
	})
}

func (r *jsonReader) options(dst *[]wireOption) bool {
	return slice(r, dst, func(o *wireOption) bool {
		return r.object(func(k []byte) (uint64, bool) {
			switch string(k) {
			case "name":
				return 1 << 0, r.str(&o.Name)
			case "type":
				return 1 << 1, r.int(&o.Type)
			case "value":
				return 1 << 2, r.raw(&o.Value)
			case "options":
				return 1 << 3, r.options(&o.Options)
			}
			return 0, true
		})
	})
}

// slice decodes an array of objects (null: nil; []: empty, non-nil).
func slice[T any](r *jsonReader, dst *[]T, decode func(*T) bool) bool {
	out := *dst
	isArray, ok := r.array(func() bool {
		var v T
		if !decode(&v) {
			return false
		}
		out = append(out, v)
		return true
	})
	if isArray && out == nil {
		out = []T{}
	}
	*dst = out
	return ok
}

func (r *jsonReader) channel(c *wireChannel) bool {
	return r.object(func(k []byte) (uint64, bool) {
		switch string(k) {
		case "id":
			return 1 << 0, r.str(&c.ID)
		case "type":
			return 1 << 1, r.int(&c.Type)
		case "name":
			return 1 << 2, r.str(&c.Name)
		case "parent_id":
			return 1 << 3, r.str(&c.ParentID)
		case "topic":
			return 1 << 4, r.str(&c.Topic)
		}
		return 0, true
	})
}

func (r *jsonReader) member(m *wireMember) bool {
	return r.object(func(k []byte) (uint64, bool) {
		switch string(k) {
		case "nick":
			return 1 << 0, r.str(&m.Nick)
		case "user":
			return 1 << 1, ptr(r, &m.User, r.user)
		}
		return 0, true
	})
}

func (r *jsonReader) user(u *wireUser) bool {
	return r.object(func(k []byte) (uint64, bool) {
		switch string(k) {
		case "id":
			return 1 << 0, r.str(&u.ID)
		case "username":
			return 1 << 1, r.str(&u.Username)
		case "global_name":
			return 1 << 2, r.str(&u.GlobalName)
		case "bot":
			return 1 << 3, r.boolean(&u.Bot)
		}
		return 0, true
	})
}

func (r *jsonReader) message(m *wireMessage) bool {
	return r.object(func(k []byte) (uint64, bool) {
		switch string(k) {
		case "id":
			return 1 << 0, r.str(&m.ID)
		case "components":
			return 1 << 1, r.raw(&m.Components)
		}
		return 0, true
	})
}

func (r *jsonReader) resolved(res *wireResolved) bool {
	return r.object(func(k []byte) (uint64, bool) {
		switch string(k) {
		case "users":
			return 1 << 0, mapOf(r, &res.Users, r.user)
		case "members":
			return 1 << 1, mapOf(r, &res.Members, r.member)
		case "roles":
			return 1 << 2, mapOf(r, &res.Roles, func(v *wireRole) bool {
				return r.object(func(k []byte) (uint64, bool) {
					if string(k) == "name" {
						return 1, r.str(&v.Name)
					}
					return 0, true
				})
			})
		case "channels":
			return 1 << 3, mapOf(r, &res.Channels, r.channel)
		case "messages":
			return 1 << 4, mapOf(r, &res.Messages, func(v *wireResolvedMessage) bool {
				return r.object(func(k []byte) (uint64, bool) {
					switch string(k) {
					case "content":
						return 1 << 0, r.str(&v.Content)
					case "author":
						return 1 << 1, ptr(r, &v.Author, r.user)
					}
					return 0, true
				})
			})
		case "attachments":
			return 1 << 5, mapOf(r, &res.Attachments, func(v *wireAttachment) bool {
				return r.object(func(k []byte) (uint64, bool) {
					switch string(k) {
					case "filename":
						return 1 << 0, r.str(&v.Filename)
					case "size":
						return 1 << 1, r.integer(&v.Size)
					case "url":
						return 1 << 2, r.str(&v.URL)
					case "content_type":
						return 1 << 3, r.str(&v.ContentType)
					}
					return 0, true
				})
			})
		}
		return 0, true
	})
}

func (r *jsonReader) components(dst *[]wireComponent) bool {
	return slice(r, dst, r.component)
}

func (r *jsonReader) component(c *wireComponent) bool {
	return r.object(func(k []byte) (uint64, bool) {
		switch string(k) {
		case "type":
			return 1 << 0, r.int(&c.Type)
		case "custom_id":
			return 1 << 1, r.str(&c.CustomID)
		case "label":
			return 1 << 2, r.str(&c.Label)
		case "placeholder":
			return 1 << 3, r.str(&c.Placeholder)
		case "options":
			return 1 << 4, slice(r, &c.Options, func(o *wireSelectOption) bool {
				return r.object(func(k []byte) (uint64, bool) {
					switch string(k) {
					case "label":
						return 1 << 0, r.str(&o.Label)
					case "value":
						return 1 << 1, r.str(&o.Value)
					}
					return 0, true
				})
			})
		case "components":
			return 1 << 5, r.components(&c.Components)
		case "component":
			return 1 << 6, ptr(r, &c.Component, r.component)
		case "accessory":
			return 1 << 7, ptr(r, &c.Accessory, r.component)
		case "value":
			return 1 << 8, r.raw(&c.Value)
		case "values":
			return 1 << 9, r.rawSlice(&c.Values)
		}
		return 0, true
	})
}
