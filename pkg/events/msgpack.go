package events

// The hand-written MessagePack codec of the contract types (the per-type
// code is in msgpack_types.go). It writes exactly the bytes msgpack/v5
// writes by reflection with sorted map keys, and reads exactly what that
// decoder reads, into the same values, with no reflection: encoding
// appends to a byte slice, decoding reads one. Each leaf reader is named
// after the msgpack/v5 Decoder method it stands for (readString is
// DecodeString: str, bin or nil) and accepts the same codes. Only
// Action.metadata, whose values may be of any type, goes through
// msgpack/v5's encoder and decoder. The tests hold the codec to the
// reflection one: a differential fuzz target, the golden files and a
// check that every tagged field is covered (msgpack_test.go).

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// errArrayStruct is msgpack/v5's error for a struct encoded as an array
// whose length is not the struct's number of fields.
var errArrayStruct = errors.New("msgpack: number of fields in array-encoded struct has changed")

// marshalBufs holds scratch buffers for marshalMsgpack; the result is a
// copy of exactly the encoded length.
var marshalBufs = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBuf is the largest scratch buffer marshalMsgpack keeps.
const maxPooledBuf = 64 << 10

// appendMsgpack appends the canonical MessagePack encoding of v when v is
// one of the contract types with a hand-written codec (or a non-nil
// pointer to one); ok is false for any other value.
func appendMsgpack(b []byte, v any) (_ []byte, ok bool, err error) {
	switch v := v.(type) {
	case MessageEvent:
		return v.appendMsgpack(b), true, nil
	case *MessageEvent:
		if v != nil {
			return v.appendMsgpack(b), true, nil
		}
	case Action:
		b, err = v.appendMsgpack(b)
		return b, true, err
	case *Action:
		if v != nil {
			b, err = v.appendMsgpack(b)
			return b, true, err
		}
	case SendResult:
		return v.appendMsgpack(b), true, nil
	case *SendResult:
		if v != nil {
			return v.appendMsgpack(b), true, nil
		}
	case Interrupt:
		return v.appendMsgpack(b), true, nil
	case *Interrupt:
		if v != nil {
			return v.appendMsgpack(b), true, nil
		}
	case Scope:
		return v.appendMsgpack(b), true, nil
	case *Scope:
		if v != nil {
			return v.appendMsgpack(b), true, nil
		}
	}
	return b, false, nil
}

// appendString appends s as msgpack/v5's EncodeString writes it.
func appendString(b []byte, s string) []byte {
	switch n := len(s); {
	case n < 32:
		b = append(b, msgpcode.FixedStrLow|byte(n))
	case n < 256:
		b = append(b, msgpcode.Str8, byte(n))
	case n <= 0xffff:
		b = append(b, msgpcode.Str16, byte(n>>8), byte(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, msgpcode.Str32), uint32(n))
	}
	return append(b, s...)
}

// appendArrayLen appends an array header as EncodeArrayLen writes it.
func appendArrayLen(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, msgpcode.FixedArrayLow|byte(n))
	case n <= 0xffff:
		return append(b, msgpcode.Array16, byte(n>>8), byte(n))
	}
	return binary.BigEndian.AppendUint32(append(b, msgpcode.Array32), uint32(n))
}

// appendMapLen appends a map header as EncodeMapLen writes it.
func appendMapLen(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, msgpcode.FixedMapLow|byte(n))
	case n <= 0xffff:
		return append(b, msgpcode.Map16, byte(n>>8), byte(n))
	}
	return binary.BigEndian.AppendUint32(append(b, msgpcode.Map32), uint32(n))
}

// appendStrings appends a []string as msgpack/v5 writes one: nil as nil.
func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, msgpcode.Nil)
	}
	b = appendArrayLen(b, len(ss))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

// appendStructs appends a slice of structs as an array, each element by
// appendElem.
func appendStructs[T any](b []byte, s []T, appendElem func(*T, []byte) []byte) []byte {
	b = appendArrayLen(b, len(s))
	for i := range s {
		b = appendElem(&s[i], b)
	}
	return b
}

// appendStringMap appends a map[string]string with sorted keys.
func appendStringMap(b []byte, m map[string]string) []byte {
	b = appendMapLen(b, len(m))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = appendString(appendString(b, k), m[k])
	}
	return b
}

// appendAnyMap appends a map[string]any with sorted keys, at every depth,
// through msgpack/v5's encoder: its values may be of any type.
func appendAnyMap(b []byte, m map[string]any) ([]byte, error) {
	buf := bytes.NewBuffer(b)
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(buf)
	enc.SetSortMapKeys(true)
	if err := enc.EncodeMapSorted(m); err != nil {
		return b, err
	}
	return buf.Bytes(), nil
}

// mapWriter appends one struct as a MessagePack map the way msgpack/v5
// writes it by reflection: keys in field order, an omitempty field left
// out when it is empty. The map header is written by end, once the
// entries are counted.
type mapWriter struct {
	b     []byte
	start int // offset of the header byte
	n     int // entries written
}

// beginMap starts a struct map at the end of b.
func beginMap(b []byte) mapWriter {
	return mapWriter{b: append(b, 0), start: len(b)}
}

// key writes the key of an entry.
func (m *mapWriter) key(k string) {
	m.n++
	m.b = appendString(m.b, k)
}

// str writes a string entry.
func (m *mapWriter) str(k, v string) {
	m.key(k)
	m.b = appendString(m.b, v)
}

// strOmit writes a string entry unless v is empty.
func (m *mapWriter) strOmit(k, v string) {
	if v != "" {
		m.str(k, v)
	}
}

// boolean writes a bool entry.
func (m *mapWriter) boolean(k string, v bool) {
	m.key(k)
	if v {
		m.b = append(m.b, msgpcode.True)
	} else {
		m.b = append(m.b, msgpcode.False)
	}
}

// boolOmit writes a bool entry unless v is false.
func (m *mapWriter) boolOmit(k string, v bool) {
	if v {
		m.boolean(k, v)
	}
}

// int64Omit writes an int64 entry (always 9 bytes, as msgpack/v5 writes
// an int64 without compact ints) unless v is 0.
func (m *mapWriter) int64Omit(k string, v int64) {
	if v != 0 {
		m.key(k)
		m.b = binary.BigEndian.AppendUint64(append(m.b, msgpcode.Int64), uint64(v))
	}
}

// strings writes a []string entry (nil as nil).
func (m *mapWriter) strings(k string, v []string) {
	m.key(k)
	m.b = appendStrings(m.b, v)
}

// stringsOmit writes a []string entry unless v is empty.
func (m *mapWriter) stringsOmit(k string, v []string) {
	if len(v) > 0 {
		m.strings(k, v)
	}
}

// end writes the map header and returns the buffer.
func (m *mapWriter) end() []byte {
	if m.n < 16 {
		m.b[m.start] = msgpcode.FixedMapLow | byte(m.n)
		return m.b
	}
	// A map16 header is three bytes; no contract struct has 65536 fields.
	m.b = slices.Insert(m.b, m.start+1, 0, 0)
	m.b[m.start], m.b[m.start+1], m.b[m.start+2] = msgpcode.Map16, byte(m.n>>8), byte(m.n)
	return m.b
}

// decoder reads MessagePack from a byte slice with the semantics of
// msgpack/v5's Decoder methods that its reflection decoder used for each
// field kind (named after them): what they accept, what they reject and
// the value they give.
type decoder struct {
	b []byte
	i int // offset of the next byte
}

// errTruncated is the error for input that ends inside a value (the
// Decoder's io.EOF and io.ErrUnexpectedEOF).
var errTruncated = errors.New("msgpack: unexpected end of input")

// decodeMsgpack decodes data into v when v is a non-nil pointer to a
// contract type with a hand-written codec; ok is false for any other v.
func decodeMsgpack(data []byte, v any) (ok bool, err error) {
	d := &decoder{b: data}
	switch v := v.(type) {
	case *MessageEvent:
		if v != nil {
			return true, wrapDecodeErr("MessageEvent", v.decodeMsgpack(d))
		}
	case *Action:
		if v != nil {
			return true, wrapDecodeErr("Action", v.decodeMsgpack(d))
		}
	case *SendResult:
		if v != nil {
			return true, wrapDecodeErr("SendResult", v.decodeMsgpack(d))
		}
	case *Interrupt:
		if v != nil {
			return true, wrapDecodeErr("Interrupt", v.decodeMsgpack(d))
		}
	case *Scope:
		if v != nil {
			return true, wrapDecodeErr("Scope", v.decodeMsgpack(d))
		}
	}
	return false, nil
}

// wrapDecodeErr names the type a decode error is about (nil stays nil).
func wrapDecodeErr(typ string, err error) error {
	if err != nil {
		return fmt.Errorf("decoding %s: %w", typ, err)
	}
	return nil
}

// peekCode returns the next code without consuming it.
func (d *decoder) peekCode() (byte, error) {
	if d.i >= len(d.b) {
		return 0, errTruncated
	}
	return d.b[d.i], nil
}

// remaining is the number of bytes left.
func (d *decoder) remaining() int { return len(d.b) - d.i }

// readCode consumes the next code.
func (d *decoder) readCode() (byte, error) {
	c, err := d.peekCode()
	if err == nil {
		d.i++
	}
	return c, err
}

// readN consumes the next n bytes.
func (d *decoder) readN(n int) ([]byte, error) {
	if n < 0 || n > len(d.b)-d.i {
		return nil, errTruncated
	}
	d.i += n
	return d.b[d.i-n : d.i], nil
}

// readUint reads a big-endian unsigned integer of size 1, 2, 4 or 8 bytes.
func (d *decoder) readUint(size int) (uint64, error) {
	b, err := d.readN(size)
	if err != nil {
		return 0, err
	}
	switch size {
	case 1:
		return uint64(b[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(b)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(b)), nil
	}
	return binary.BigEndian.Uint64(b), nil
}

// readLen reads a big-endian length of size bytes.
func (d *decoder) readLen(size int) (int, error) {
	u, err := d.readUint(size)
	return int(u), err
}

// bytesLen is the Decoder's bytesLen: the length of a str or bin after its
// code c, -1 for nil.
func (d *decoder) bytesLen(c byte) (int, error) {
	switch {
	case c == msgpcode.Nil:
		return -1, nil
	case msgpcode.IsFixedString(c):
		return int(c & msgpcode.FixedStrMask), nil
	case c == msgpcode.Str8, c == msgpcode.Bin8:
		return d.readLen(1)
	case c == msgpcode.Str16, c == msgpcode.Bin16:
		return d.readLen(2)
	case c == msgpcode.Str32, c == msgpcode.Bin32:
		return d.readLen(4)
	}
	return 0, fmt.Errorf("msgpack: invalid code=%x decoding string/bytes length", c)
}

// arrayLen is the Decoder's arrayLen: the length of an array after its
// code c, -1 for nil.
func (d *decoder) arrayLen(c byte) (int, error) {
	switch {
	case c == msgpcode.Nil:
		return -1, nil
	case msgpcode.IsFixedArray(c):
		return int(c & msgpcode.FixedArrayMask), nil
	case c == msgpcode.Array16:
		return d.readLen(2)
	case c == msgpcode.Array32:
		return d.readLen(4)
	}
	return 0, fmt.Errorf("msgpack: invalid code=%x decoding array length", c)
}

// mapLen is the Decoder's mapLen: the length of a map after its code c,
// -1 for nil.
func (d *decoder) mapLen(c byte) (int, error) {
	switch {
	case c == msgpcode.Nil:
		return -1, nil
	case msgpcode.IsFixedMap(c):
		return int(c & msgpcode.FixedMapMask), nil
	case c == msgpcode.Map16:
		return d.readLen(2)
	case c == msgpcode.Map32:
		return d.readLen(4)
	}
	return 0, fmt.Errorf("msgpack: invalid code=%x decoding map length", c)
}

// readBytes is DecodeBytesLen and the bytes: a str, bin or nil (nil bytes).
func (d *decoder) readBytes() ([]byte, error) {
	c, err := d.readCode()
	if err != nil {
		return nil, err
	}
	n, err := d.bytesLen(c)
	if err != nil || n <= 0 {
		return nil, err
	}
	return d.readN(n)
}

// readString is DecodeString: a str, bin or nil ("").
func (d *decoder) readString() (string, error) {
	b, err := d.readBytes()
	return string(b), err
}

// readBool is DecodeBool: true, false or nil (false).
func (d *decoder) readBool() (bool, error) {
	c, err := d.readCode()
	if err != nil {
		return false, err
	}
	switch c {
	case msgpcode.True:
		return true, nil
	case msgpcode.False, msgpcode.Nil:
		return false, nil
	}
	return false, fmt.Errorf("msgpack: invalid code=%x decoding bool", c)
}

// readInt64 is DecodeInt64: any integer format or nil (0); not a float.
func (d *decoder) readInt64() (int64, error) {
	c, err := d.readCode()
	if err != nil {
		return 0, err
	}
	if c == msgpcode.Nil {
		return 0, nil
	}
	if msgpcode.IsFixedNum(c) {
		return int64(int8(c)), nil
	}
	var u uint64
	switch c {
	case msgpcode.Uint8, msgpcode.Int8:
		u, err = d.readUint(1)
	case msgpcode.Uint16, msgpcode.Int16:
		u, err = d.readUint(2)
	case msgpcode.Uint32, msgpcode.Int32:
		u, err = d.readUint(4)
	case msgpcode.Uint64, msgpcode.Int64:
		u, err = d.readUint(8)
	default:
		return 0, fmt.Errorf("msgpack: invalid code=%x decoding int64", c)
	}
	switch c {
	case msgpcode.Int8:
		return int64(int8(u)), err
	case msgpcode.Int16:
		return int64(int16(u)), err
	case msgpcode.Int32:
		return int64(int32(u)), err
	}
	return int64(u), err
}

// readArrayLen is DecodeArrayLen: -1 for nil.
func (d *decoder) readArrayLen() (int, error) {
	c, err := d.readCode()
	if err != nil {
		return 0, err
	}
	return d.arrayLen(c)
}

// readMapLen is DecodeMapLen, which reads a map length after an ext
// header when there is one (the ext's declared length is not checked).
func (d *decoder) readMapLen() (int, error) {
	c, err := d.readCode()
	if err != nil {
		return 0, err
	}
	if msgpcode.IsExt(c) {
		// The ext type and the ext length bytes, as the Decoder skips them.
		skip := 1
		switch c {
		case msgpcode.Ext8:
			skip += 1
		case msgpcode.Ext16:
			skip += 2
		case msgpcode.Ext32:
			skip += 4
		}
		if _, err := d.readN(skip); err != nil {
			return 0, err
		}
		if c, err = d.readCode(); err != nil {
			return 0, err
		}
	}
	return d.mapLen(c)
}

// readAnyMap is DecodeMap, through msgpack/v5's Decoder: its values may
// be anything. The entries are checked to fit in the input first:
// DecodeMap allocates what a length claims, and after an ext header
// (readMapLen) it reads bytes that checkMsgpack saw as the ext's opaque
// data, so a hostile length there would make it allocate without bound.
func (d *decoder) readAnyMap() (map[string]any, error) {
	if m, ok := d.readStringsMap(); ok {
		return m, nil
	}
	probe := *d
	n, err := probe.readMapLen()
	if err != nil {
		return nil, err
	}
	if n > 0 {
		if err := probe.skipValues(2 * n); err != nil {
			return nil, err
		}
	}
	r := bytes.NewReader(d.b[d.i:])
	dec := msgpack.GetDecoder()
	defer msgpack.PutDecoder(dec)
	dec.Reset(r)
	dec.UsePreallocateValues(true) // as msgpack.Unmarshal
	m, err := dec.DecodeMap()
	d.i = len(d.b) - r.Len()
	return m, err
}

// readStringsMap is readAnyMap for the common metadata, a map (or nil)
// whose values are all str: DecodeMap reads each as a string. It returns
// false, having consumed nothing, for anything else.
func (d *decoder) readStringsMap() (map[string]any, bool) {
	probe := *d
	c, err := probe.readCode()
	if err != nil {
		return nil, false
	}
	n, err := probe.mapLen(c)
	if err != nil || n > probe.remaining() {
		return nil, false
	}
	var m map[string]any
	if n >= 0 {
		m = make(map[string]any, n)
	}
	for range n {
		k, err := probe.readString()
		if err != nil {
			return nil, false
		}
		if c, err := probe.peekCode(); err != nil || !msgpcode.IsString(c) {
			return nil, false
		}
		v, err := probe.readString()
		if err != nil {
			return nil, false
		}
		m[k] = v
	}
	*d = probe
	return m, true
}

// skip is Skip: it consumes one value of any type.
func (d *decoder) skip() error { return d.skipValues(1) }

// skipValues consumes n values of any type, as n calls of Skip would, but
// fails as soon as the values left cannot fit in the input (each takes at
// least a byte).
func (d *decoder) skipValues(n int) error {
	for pending := n; pending > 0; pending-- {
		if pending > d.remaining() {
			return errMsgpackLength
		}
		c, err := d.readCode()
		if err != nil {
			return err
		}
		var size int // payload bytes to skip
		switch {
		case msgpcode.IsFixedNum(c), c == msgpcode.Nil, c == msgpcode.False, c == msgpcode.True:
		case msgpcode.IsFixedMap(c), c == msgpcode.Map16, c == msgpcode.Map32:
			m, err := d.mapLen(c)
			if err != nil {
				return err
			}
			pending += 2 * m
		case msgpcode.IsFixedArray(c), c == msgpcode.Array16, c == msgpcode.Array32:
			m, err := d.arrayLen(c)
			if err != nil {
				return err
			}
			pending += m
		case msgpcode.IsFixedString(c), msgpcode.IsString(c), msgpcode.IsBin(c):
			if size, err = d.bytesLen(c); err != nil {
				return err
			}
		case c == msgpcode.Uint8, c == msgpcode.Int8:
			size = 1
		case c == msgpcode.Uint16, c == msgpcode.Int16:
			size = 2
		case c == msgpcode.Uint32, c == msgpcode.Int32, c == msgpcode.Float:
			size = 4
		case c == msgpcode.Uint64, c == msgpcode.Int64, c == msgpcode.Double:
			size = 8
		case msgpcode.IsExt(c):
			if size, err = d.extLen(c); err != nil {
				return err
			}
			size++ // the ext type
		default:
			return fmt.Errorf("msgpack: unknown code %x", c)
		}
		if size > 0 {
			if _, err := d.readN(size); err != nil {
				return err
			}
		}
	}
	return nil
}

// extLen is the Decoder's parseExtLen: the data length of an ext.
func (d *decoder) extLen(c byte) (int, error) {
	switch c {
	case msgpcode.FixExt1, msgpcode.FixExt2, msgpcode.FixExt4, msgpcode.FixExt8, msgpcode.FixExt16:
		return 1 << (c - msgpcode.FixExt1), nil
	case msgpcode.Ext8:
		u, err := d.readUint(1)
		return int(u), err
	case msgpcode.Ext16:
		u, err := d.readUint(2)
		return int(u), err
	}
	u, err := d.readUint(4)
	return int(u), err
}

// readNil is DecodeNil.
func (d *decoder) readNil() error {
	c, err := d.readCode()
	if err != nil {
		return err
	}
	if c != msgpcode.Nil {
		return fmt.Errorf("msgpack: invalid code=%x decoding nil", c)
	}
	return nil
}

// structReader reads one struct value as msgpack/v5's reflection decoder
// reads it: a map of keys to values (unknown keys skipped, a repeated key
// decoded again into the same field), an array of every field in field
// order, or nil. Call next until it returns false, then check err.
type structReader struct {
	d     *decoder
	keys  []string // the struct's keys in field order, for the array form
	n, i  int      // entries in the value, entries read
	array bool     // the value is an array of every field
	zero  bool     // the value is nil or an empty array
	key   []byte   // the current key (map form)
	err   error
}

// readStruct reads the header of a struct value. r.zero reports a nil
// value or an empty array, which reset the struct to its zero value.
func readStruct(d *decoder, keys []string) (r structReader, err error) {
	r = structReader{d: d, keys: keys}
	c, err := d.readCode()
	if err != nil {
		return r, err
	}
	if r.n, err = d.mapLen(c); err == nil {
		r.zero = r.n == -1
		return r, nil
	}
	n, err2 := d.arrayLen(c)
	if err2 != nil {
		return r, err // the map error, as the Decoder reports it
	}
	if n != 0 && n != len(keys) {
		return r, errArrayStruct
	}
	r.n, r.array, r.zero = n, true, n == 0
	return r, nil
}

// next reads the next key; it returns false at the end or on an error.
func (r *structReader) next() bool {
	if r.i >= r.n || r.err != nil {
		return false
	}
	r.i++
	if r.array {
		return true
	}
	if r.key, r.err = r.d.readBytes(); r.err != nil {
		r.err = fmt.Errorf("key: %w", r.err)
		return false
	}
	return true
}

// name is the current key.
func (r *structReader) name() string {
	if r.array {
		return r.keys[r.i-1]
	}
	return string(r.key) // compared without a copy; copied only on errors
}

// fieldErr wraps an error decoding the current key's value.
func (r *structReader) fieldErr(err error) error {
	return fmt.Errorf("%s: %w", r.name(), err)
}

// decodeOptional decodes a pointer to a struct: nil sets it to nil,
// anything else decodes into the struct it points to (allocating one when
// it is nil).
func decodeOptional[T any](d *decoder, p **T, decode func(*T, *decoder) error) error {
	c, err := d.peekCode()
	if err != nil {
		return err
	}
	if c == msgpcode.Nil {
		*p = nil
		return d.readNil()
	}
	if *p == nil {
		*p = new(T)
	}
	return decode(*p, d)
}

// decodeStringPtr decodes a *string the same way.
func decodeStringPtr(d *decoder, p **string) error {
	c, err := d.peekCode()
	if err != nil {
		return err
	}
	if c == msgpcode.Nil {
		*p = nil
		return d.readNil()
	}
	if *p == nil {
		*p = new(string)
	}
	**p, err = d.readString()
	return err
}

// decodeStrings decodes a []string as msgpack/v5 does: nil leaves the
// slice as it was, an array replaces its elements (reusing its storage).
func decodeStrings(d *decoder, p *[]string) error {
	n, err := d.readArrayLen()
	if err != nil || n == -1 {
		return err
	}
	ss := *p
	if ss == nil || cap(ss) < n {
		ss = make([]string, 0, min(n, d.remaining()))
	} else {
		ss = ss[:0]
	}
	for range n {
		s, err := d.readString()
		if err != nil {
			return err
		}
		ss = append(ss, s)
	}
	*p = ss
	return nil
}

// decodeStructs decodes a slice of structs as msgpack/v5 does: nil sets it
// to nil, an empty array to an empty slice, and n elements decode into the
// slice's first n elements, which are reused when it has them (a repeated
// key merges into the elements decoded before).
func decodeStructs[T any](d *decoder, p *[]T, decode func(*T, *decoder) error) error {
	n, err := d.readArrayLen()
	if err != nil {
		return err
	}
	if n > d.remaining() {
		// Each element takes at least a byte. msgpack/v5 would allocate
		// them all first: a hostile length after an ext header (readMapLen)
		// is not covered by checkMsgpack.
		return errMsgpackLength
	}
	s := *p
	switch {
	case n == -1:
		*p = nil
		return nil
	case n == 0 && s == nil:
		*p = []T{}
		return nil
	case cap(s) >= n:
		s = s[:n]
	default:
		s = s[:cap(s)]
		s = append(s, make([]T, n-len(s))...)
	}
	*p = s
	for i := range s {
		if err := decode(&s[i], d); err != nil {
			return fmt.Errorf("[%d]: %w", i, err)
		}
	}
	return nil
}

// decodeStringMap decodes a map[string]string as msgpack/v5 does: nil sets
// it to nil, entries are added to the map there is.
func decodeStringMap(d *decoder, p *map[string]string) error {
	n, err := d.readMapLen()
	if err != nil {
		return err
	}
	if n == -1 {
		*p = nil
		return nil
	}
	if *p == nil {
		*p = make(map[string]string, min(n, d.remaining()))
	}
	for range n {
		k, err := d.readString()
		if err != nil {
			return err
		}
		v, err := d.readString()
		if err != nil {
			return err
		}
		(*p)[k] = v
	}
	return nil
}
