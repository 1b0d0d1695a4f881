package events

// The hand-written MessagePack codec of the contract types: the machinery
// (this file), the struct codec and its field kinds (msgpack_fields.go)
// and one field table per type (msgpack_types.go). It writes exactly the
// bytes msgpack/v5 writes by reflection with sorted map keys, and reads
// exactly what that decoder reads, into the same values, with no
// reflection: encoding appends to a byte slice, decoding reads one. Each
// leaf reader is named after the msgpack/v5 Decoder method it stands for
// (readString is DecodeString: str, bin or nil) and accepts the same
// codes. Only Action.metadata, whose values may be of any type, goes
// through msgpack/v5's encoder and decoder. The tests hold the codec to
// the reflection one: a differential fuzz target, the golden files and a
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

// marshalScratch is marshalMsgpack's scratch space: a buffer (the result
// is a copy of exactly the encoded length) and a place for a value of each
// contract type. A value in an interface is copied there to be encoded:
// the codec's fields are called indirectly, so a pointer to a copy on the
// stack would move it to the heap.
type marshalScratch struct {
	b         []byte
	event     MessageEvent
	action    Action
	result    SendResult
	interrupt Interrupt
	scope     Scope
}

// marshalScratches holds marshalScratch values.
var marshalScratches = sync.Pool{New: func() any { return new(marshalScratch) }}

// maxPooledBuf is the largest scratch buffer marshalMsgpack keeps.
const maxPooledBuf = 64 << 10

// appendMsgpack sets s.b to the canonical MessagePack encoding of v when v
// is one of the contract types with a hand-written codec (or a non-nil
// pointer to one); ok is false for any other value.
func (s *marshalScratch) appendMsgpack(v any) (_ []byte, ok bool, err error) {
	b := s.b[:0]
	switch v.(type) {
	case MessageEvent:
		b, ok, err = appendCopy(b, messageEventCodec, &s.event, v)
	case *MessageEvent:
		b, ok, err = messageEventCodec.appendTop(b, v.(*MessageEvent))
	case Action:
		b, ok, err = appendCopy(b, actionCodec, &s.action, v)
	case *Action:
		b, ok, err = actionCodec.appendTop(b, v.(*Action))
	case SendResult:
		b, ok, err = appendCopy(b, sendResultCodec, &s.result, v)
	case *SendResult:
		b, ok, err = sendResultCodec.appendTop(b, v.(*SendResult))
	case Interrupt:
		b, ok, err = appendCopy(b, interruptCodec, &s.interrupt, v)
	case *Interrupt:
		b, ok, err = interruptCodec.appendTop(b, v.(*Interrupt))
	case Scope:
		b, ok, err = appendCopy(b, scopeCodec, &s.scope, v)
	case *Scope:
		b, ok, err = scopeCodec.appendTop(b, v.(*Scope))
	}
	s.b = b
	return b, ok, err
}

// appendCopy appends v, a T, with c from a copy in slot, which it clears
// after.
func appendCopy[T any](b []byte, c *structCodec[T], slot *T, v any) ([]byte, bool, error) {
	*slot = v.(T)
	b, ok, err := c.appendTop(b, slot)
	*slot = *new(T)
	return b, ok, err
}

// lengthFormat is one family of MessagePack length headers: str (with bin,
// which is read as str), array or map.
type lengthFormat struct {
	what        string // the family, for errors
	fixed, mask byte   // the fixed form: fixed|n, for n <= mask
	// c8, c16 and c32 are the codes written for a length in 1, 2 and 4
	// bytes (c8 0: there is no 1-byte form).
	c8, c16, c32 byte
	// size is, for each code read, the bytes of length after it, or
	// fixedLength for the fixed form (0: not a code of the family).
	size [256]int8
}

// fixedLength marks the fixed form in lengthFormat.size.
const fixedLength = -1

// newLengthFormat returns the format that writes codes (the 1-, 2- and
// 4-byte forms, 0 for none) and also reads alsoRead.
func newLengthFormat(what string, fixed, mask byte, codes [3]byte, alsoRead ...[3]byte) lengthFormat {
	f := lengthFormat{what: what, fixed: fixed, mask: mask, c8: codes[0], c16: codes[1], c32: codes[2]}
	for c := int(fixed); c <= int(fixed|mask); c++ {
		f.size[c] = fixedLength
	}
	for _, cs := range append(alsoRead, codes) {
		for i, c := range cs {
			if c != 0 {
				f.size[c] = 1 << i
			}
		}
	}
	return f
}

// The length formats, as msgpack/v5's Encoder writes them and its
// Decoder's bytesLen, arrayLen and mapLen read them.
var (
	bytesLens = newLengthFormat("string/bytes", msgpcode.FixedStrLow, msgpcode.FixedStrMask,
		[3]byte{msgpcode.Str8, msgpcode.Str16, msgpcode.Str32}, [3]byte{msgpcode.Bin8, msgpcode.Bin16, msgpcode.Bin32})
	arrayLens = newLengthFormat("array", msgpcode.FixedArrayLow, msgpcode.FixedArrayMask,
		[3]byte{0, msgpcode.Array16, msgpcode.Array32})
	mapLens = newLengthFormat("map", msgpcode.FixedMapLow, msgpcode.FixedMapMask,
		[3]byte{0, msgpcode.Map16, msgpcode.Map32})
)

// appendLen appends a length header of format f, as the Encoder's
// EncodeString, EncodeArrayLen and EncodeMapLen write it.
func appendLen(b []byte, n int, f *lengthFormat) []byte {
	switch {
	case n <= int(f.mask):
		return append(b, f.fixed|byte(n))
	case n < 256 && f.c8 != 0:
		return append(b, f.c8, byte(n))
	case n <= 0xffff:
		return append(b, f.c16, byte(n>>8), byte(n))
	}
	return binary.BigEndian.AppendUint32(append(b, f.c32), uint32(n))
}

// appendString appends s as msgpack/v5's EncodeString writes it.
func appendString(b []byte, s string) []byte {
	return append(appendLen(b, len(s), &bytesLens), s...)
}

// appendInt64 appends an int64 in 9 bytes, as msgpack/v5 writes an int64
// without compact ints.
func appendInt64(b []byte, n int64) []byte {
	return binary.BigEndian.AppendUint64(append(b, msgpcode.Int64), uint64(n))
}

// appendStrings appends a []string as msgpack/v5 writes one: nil as nil.
func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, msgpcode.Nil)
	}
	b = appendLen(b, len(ss), &arrayLens)
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

// appendStringMap appends a map[string]string with sorted keys.
func appendStringMap(b []byte, m map[string]string) []byte {
	b = appendLen(b, len(m), &mapLens)
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
		return messageEventCodec.decodeTop(d, v)
	case *Action:
		return actionCodec.decodeTop(d, v)
	case *SendResult:
		return sendResultCodec.decodeTop(d, v)
	case *Interrupt:
		return interruptCodec.decodeTop(d, v)
	case *Scope:
		return scopeCodec.decodeTop(d, v)
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

// length is the Decoder's bytesLen, arrayLen or mapLen (f): the length
// of a value of format f after its code c, -1 for nil.
func (d *decoder) length(c byte, f *lengthFormat) (int, error) {
	switch size := f.size[c]; {
	case c == msgpcode.Nil:
		return -1, nil
	case size == fixedLength:
		return int(c & f.mask), nil
	case size > 0:
		return d.readLen(int(size))
	}
	return 0, fmt.Errorf("msgpack: invalid code=%x decoding %s length", c, f.what)
}

// readBytes is DecodeBytesLen and the bytes: a str, bin or nil (nil bytes).
func (d *decoder) readBytes() ([]byte, error) {
	c, err := d.readCode()
	if err != nil {
		return nil, err
	}
	n, err := d.length(c, &bytesLens)
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
	return d.length(c, &arrayLens)
}

// readMapLen is DecodeMapLen, which reads a map length after an ext
// header when there is one (the ext's declared length is not checked).
func (d *decoder) readMapLen() (int, error) {
	c, err := d.readCode()
	if err != nil {
		return 0, err
	}
	if msgpcode.IsExt(c) {
		// The ext length bytes and the ext type, as the Decoder skips them.
		if _, err := d.readN(extLenSize(c) + 1); err != nil {
			return 0, err
		}
		if c, err = d.readCode(); err != nil {
			return 0, err
		}
	}
	return d.length(c, &mapLens)
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
	n, err := probe.length(c, &mapLens)
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
		case mapLens.size[c] != 0, arrayLens.size[c] != 0:
			f, values := &arrayLens, 1 // values per entry
			if mapLens.size[c] != 0 {
				f, values = &mapLens, 2
			}
			m, err := d.length(c, f)
			if err != nil {
				return err
			}
			pending += values * m
		case bytesLens.size[c] != 0:
			if size, err = d.length(c, &bytesLens); err != nil {
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
	if msgpcode.IsFixedExt(c) {
		return 1 << (c - msgpcode.FixExt1), nil
	}
	return d.readLen(extLenSize(c))
}

// extLenSize is the size of the length of an ext after its code c: 0 for
// a fixext, 1, 2 or 4 bytes for ext8, ext16 and ext32.
func extLenSize(c byte) int {
	if msgpcode.IsFixedExt(c) {
		return 0
	}
	return 1 << (c - msgpcode.Ext8)
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
	hint  int      // the index after the last key found (index)
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
	if r.n, err = d.length(c, &mapLens); err == nil {
		r.zero = r.n == -1
		return r, nil
	}
	n, err2 := d.length(c, &arrayLens)
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

// index returns the index in keys of the current key, or -1 for a key
// the struct does not have. Keys usually come in field order, so the
// search starts after the last key found.
func (r *structReader) index() int {
	if r.array {
		return r.i - 1
	}
	for j := range len(r.keys) {
		i := r.hint + j
		if i >= len(r.keys) {
			i -= len(r.keys)
		}
		if string(r.key) == r.keys[i] {
			r.hint = i + 1
			return i
		}
	}
	return -1
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

// decodeOptional decodes a pointer (to a struct or a string): nil sets it
// to nil, anything else decodes into the value it points to (allocating
// one when it is nil).
func decodeOptional[T any](d *decoder, p **T, decode func(*decoder, *T) error) error {
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
	return decode(d, *p)
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
func decodeStructs[T any](d *decoder, p *[]T, decode func(*decoder, *T) error) error {
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
		if err := decode(d, &s[i]); err != nil {
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
