package events

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// structCodec is the MessagePack codec of one contract struct T, built
// from its fields in field order (msgpack_types.go). It encodes a T as
// msgpack/v5 does by reflection with sorted map keys (a map of the fields
// in field order, an omitempty field left out when it is empty) and
// decodes one as its reflection decoder does (readStruct).
type structCodec[T any] struct {
	name   string // the type's name, for errors
	fields []field[T]
	keys   []string // the fields' keys, for readStruct
}

// field is one field of a struct T.
type field[T any] struct {
	key string
	tag string // the msgpack tag it was built from (TestMsgpackKeys)
	// kind is the JSON kind of the value ("string", "bool", "integer",
	// "array", "object"), for naming a key whose value has the wrong type
	// (actionTypeError).
	kind string
	// A string field (most fields are strings) the codec reads and writes
	// itself, at offset off in T: a call through an accessor per field
	// made encoding 10 to 25 % slower than the per-type code this table
	// replaced. off is taken from the field's typed accessor (str).
	isStr   bool
	off     uintptr
	encKey  []byte // the key, encoded
	omitted bool   // the tag has omitempty
	// Other fields: append appends the key and the value of the field of
	// v, or nothing when the tag's omitempty leaves it out; decode decodes
	// a value into the field of v.
	append func(b []byte, v *T) ([]byte, error)
	decode func(d *decoder, v *T) error
}

// newCodec returns the codec of a struct named name with these fields.
func newCodec[T any](name string, fields ...field[T]) *structCodec[T] {
	c := &structCodec[T]{name: name, fields: fields}
	for _, f := range fields {
		c.keys = append(c.keys, f.key)
	}
	return c
}

// appendMsgpack appends v as a map.
func (c *structCodec[T]) appendMsgpack(b []byte, v *T) ([]byte, error) {
	start := len(b)
	b = append(b, 0) // the header, written once the entries are counted
	n := 0
	for i := range c.fields {
		f := &c.fields[i]
		if f.isStr {
			if s := *f.strIn(v); s != "" || !f.omitted {
				b = appendString(append(b, f.encKey...), s)
				n++
			}
			continue
		}
		end := len(b)
		var err error
		if b, err = f.append(b, v); err != nil {
			return b[:start], fmt.Errorf("%s: %w", f.key, err)
		}
		if len(b) > end {
			n++
		}
	}
	if n < 16 {
		b[start] = msgpcode.FixedMapLow | byte(n)
		return b, nil
	}
	// A map16 header is three bytes; no contract struct has 65536 fields.
	b = append(b, 0, 0)
	copy(b[start+3:], b[start+1:])
	b[start], b[start+1], b[start+2] = msgpcode.Map16, byte(n>>8), byte(n)
	return b, nil
}

// decodeMsgpack decodes a value into v as msgpack/v5's reflection
// decoder does: nil or an empty array sets v to its zero value; otherwise
// each key (unknown ones skipped) or each element of an array of every
// field decodes into its field.
func (c *structCodec[T]) decodeMsgpack(d *decoder, v *T) error {
	r, err := readStruct(d, c.keys)
	if err != nil {
		return err
	}
	if r.zero {
		*v = *new(T)
		return nil
	}
	for r.next() {
		switch i := r.index(); {
		case i < 0:
			err = d.skip()
		case c.fields[i].isStr:
			*c.fields[i].strIn(v), err = d.readString()
		default:
			err = c.fields[i].decode(d, v)
		}
		if err != nil {
			return r.fieldErr(err)
		}
	}
	return r.err
}

// appendTop appends v, a value of a contract type, for appendMsgpack: ok
// is false for a nil v.
func (c *structCodec[T]) appendTop(b []byte, v *T) (_ []byte, ok bool, err error) {
	if v == nil {
		return b, false, nil
	}
	if b, err = c.appendMsgpack(b, v); err != nil {
		return b, true, fmt.Errorf("encoding %s: %w", c.name, err)
	}
	return b, true, nil
}

// decodeTop decodes into v, a value of a contract type, for
// decodeMsgpack: ok is false for a nil v.
func (c *structCodec[T]) decodeTop(d *decoder, v *T) (ok bool, err error) {
	if v == nil {
		return false, nil
	}
	return true, wrapDecodeErr(c.name, c.decodeMsgpack(d, v))
}

// newField starts the field of a msgpack tag ("key" or "key,omitempty"):
// it returns the field, the encoded key and whether omitempty is set.
func newField[T any](tag, kind string) (field[T], []byte, bool) {
	key, opts, _ := strings.Cut(tag, ",")
	f := field[T]{key: key, tag: tag, kind: kind, encKey: appendString(nil, key), omitted: opts == "omitempty"}
	return f, f.encKey, f.omitted
}

// The field kinds. Each builds a field from its tag and an accessor that
// returns a pointer to the field in its struct.

// str is a string field; the codec encodes and decodes it.
func str[T any](tag string, get func(*T) *string) field[T] {
	f, _, _ := newField[T](tag, "string")
	var v T
	f.isStr, f.off = true, uintptr(unsafe.Pointer(get(&v)))-uintptr(unsafe.Pointer(&v))
	if f.off >= unsafe.Sizeof(v) {
		panic("events: accessor of " + f.key + " is not of a field of its struct")
	}
	return f
}

// strIn returns the string field f of v.
func (f *field[T]) strIn(v *T) *string {
	return (*string)(unsafe.Add(unsafe.Pointer(v), f.off))
}

// strPtr is a *string field: nil is left out with omitempty and written
// as nil otherwise.
func strPtr[T any](tag string, get func(*T) **string) field[T] {
	f, key, omit := newField[T](tag, "string")
	f.append = func(b []byte, v *T) ([]byte, error) {
		switch p := *get(v); {
		case p != nil:
			return appendString(append(b, key...), *p), nil
		case !omit:
			return append(append(b, key...), msgpcode.Nil), nil
		}
		return b, nil
	}
	f.decode = func(d *decoder, v *T) error {
		return decodeOptional(d, get(v), func(d *decoder, s *string) (err error) {
			*s, err = d.readString()
			return err
		})
	}
	return f
}

// boolean is a bool field.
func boolean[T any](tag string, get func(*T) *bool) field[T] {
	f, key, omit := newField[T](tag, "bool")
	f.append = func(b []byte, v *T) ([]byte, error) {
		switch {
		case *get(v):
			return append(append(b, key...), msgpcode.True), nil
		case !omit:
			return append(append(b, key...), msgpcode.False), nil
		}
		return b, nil
	}
	f.decode = func(d *decoder, v *T) (err error) {
		*get(v), err = d.readBool()
		return err
	}
	return f
}

// int64Field is an int64 field, always written in 9 bytes, as msgpack/v5
// writes an int64 without compact ints.
func int64Field[T any](tag string, get func(*T) *int64) field[T] {
	f, key, omit := newField[T](tag, "integer")
	f.append = func(b []byte, v *T) ([]byte, error) {
		n := *get(v)
		if omit && n == 0 {
			return b, nil
		}
		return appendInt64(append(b, key...), n), nil
	}
	f.decode = func(d *decoder, v *T) (err error) {
		*get(v), err = d.readInt64()
		return err
	}
	return f
}

// strs is a []string field (nil written as nil).
func strs[T any](tag string, get func(*T) *[]string) field[T] {
	f, key, omit := newField[T](tag, "array")
	f.append = func(b []byte, v *T) ([]byte, error) {
		ss := *get(v)
		if omit && len(ss) == 0 {
			return b, nil
		}
		return appendStrings(append(b, key...), ss), nil
	}
	f.decode = func(d *decoder, v *T) error { return decodeStrings(d, get(v)) }
	return f
}

// stringMap is a map[string]string field (nil written as nil).
func stringMap[T any](tag string, get func(*T) *map[string]string) field[T] {
	return mapField(tag, get, func(b []byte, m map[string]string) ([]byte, error) { return appendStringMap(b, m), nil },
		decodeStringMap)
}

// anyMap is a map[string]any field, whose values may be of any type:
// it goes through msgpack/v5's encoder and decoder (nil written as nil).
func anyMap[T any](tag string, get func(*T) *map[string]any) field[T] {
	return mapField(tag, get, appendAnyMap, func(d *decoder, p *map[string]any) (err error) {
		*p, err = d.readAnyMap()
		return err
	})
}

// mapField is a map field, appended by appendMap and decoded by decode
// (nil written as nil).
func mapField[T, V any](tag string, get func(*T) *map[string]V,
	appendMap func([]byte, map[string]V) ([]byte, error), decode func(*decoder, *map[string]V) error,
) field[T] {
	f, key, omit := newField[T](tag, "object")
	f.append = func(b []byte, v *T) ([]byte, error) {
		switch m := *get(v); {
		case omit && len(m) == 0:
			return b, nil
		case m == nil:
			return append(append(b, key...), msgpcode.Nil), nil
		default:
			return appendMap(append(b, key...), m)
		}
	}
	f.decode = func(d *decoder, v *T) error { return decode(d, get(v)) }
	return f
}

// object is a struct field, by the struct's codec; a struct field is never
// empty (no contract struct field has omitempty).
func object[T, S any](tag string, c *structCodec[S], get func(*T) *S) field[T] {
	f, key, omit := newField[T](tag, "object")
	if omit {
		panic("events: omitempty on struct field " + f.key)
	}
	f.append = func(b []byte, v *T) ([]byte, error) { return c.appendMsgpack(append(b, key...), get(v)) }
	f.decode = func(d *decoder, v *T) error { return c.decodeMsgpack(d, get(v)) }
	return f
}

// optional is a pointer-to-struct field: nil is left out with omitempty
// and written as nil otherwise.
func optional[T, S any](tag string, c *structCodec[S], get func(*T) **S) field[T] {
	f, key, omit := newField[T](tag, "object")
	f.append = func(b []byte, v *T) ([]byte, error) {
		switch p := *get(v); {
		case p != nil:
			return c.appendMsgpack(append(b, key...), p)
		case !omit:
			return append(append(b, key...), msgpcode.Nil), nil
		}
		return b, nil
	}
	f.decode = func(d *decoder, v *T) error { return decodeOptional(d, get(v), c.decodeMsgpack) }
	return f
}

// structs is a slice-of-structs field (nil written as nil).
func structs[T, S any](tag string, c *structCodec[S], get func(*T) *[]S) field[T] {
	f, key, omit := newField[T](tag, "array")
	f.append = func(b []byte, v *T) ([]byte, error) {
		s := *get(v)
		switch {
		case omit && len(s) == 0:
			return b, nil
		case s == nil:
			return append(append(b, key...), msgpcode.Nil), nil
		}
		b = appendLen(append(b, key...), len(s), &arrayLens)
		for i := range s {
			var err error
			if b, err = c.appendMsgpack(b, &s[i]); err != nil {
				return b, fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return b, nil
	}
	f.decode = func(d *decoder, v *T) error { return decodeStructs(d, get(v), c.decodeMsgpack) }
	return f
}
