package events

import (
	"encoding/binary"
	"errors"
)

// msgpackMaxDepth bounds how deeply MessagePack containers may nest in a
// payload we decode. Real events and actions nest a handful of levels; the
// bound keeps the decoder's recursion (and so its stack) small.
const msgpackMaxDepth = 128

var (
	errMsgpackTruncated = errors.New("msgpack: truncated value")
	errMsgpackLength    = errors.New("msgpack: container length exceeds the payload")
	errMsgpackDepth     = errors.New("msgpack: nesting too deep")
	errMsgpackCode      = errors.New("msgpack: reserved code 0xc1")
	errMsgpackTrailing  = errors.New("msgpack: trailing bytes after the value")
)

// checkMsgpack verifies that b is exactly one well-formed MessagePack value
// whose every declared length fits in the bytes that remain and whose
// containers nest at most msgpackMaxDepth deep.
//
// It exists because github.com/vmihailenco/msgpack/v5 (v5.4.1) allocates a
// slice of the declared length before reading the elements when it decodes
// into interface{} values or struct slices: five bytes claiming an array of
// 2^32 elements make it allocate 64 GiB and the runtime abort with a fatal,
// unrecoverable "out of memory". With this check first, every allocation is
// bounded by the payload's own size. It does one pass and allocates nothing.
func checkMsgpack(b []byte) error {
	var stack [msgpackMaxDepth]uint64 // values left in each open container
	depth := 0
	pending := uint64(1) // values left to read in total
	i := 0
	for pending > 0 {
		for depth > 0 && stack[depth-1] == 0 {
			depth--
		}
		if depth > 0 {
			stack[depth-1]--
		}
		pending--
		if i >= len(b) {
			return errMsgpackTruncated
		}
		c := b[i]
		i++
		var skip uint64 // payload bytes after the code and its length field
		var count uint64
		container := false
		switch {
		case c <= 0x7f || c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
		case c >= 0x80 && c <= 0x8f:
			count, container = 2*uint64(c&0x0f), true
		case c >= 0x90 && c <= 0x9f:
			count, container = uint64(c&0x0f), true
		case c >= 0xa0 && c <= 0xbf:
			skip = uint64(c & 0x1f)
		case c == 0xc1:
			return errMsgpackCode
		default:
			var n uint64
			var ok bool
			switch c {
			case 0xc4, 0xd9: // bin8, str8
				n, i, ok = readLen(b, i, 1)
				skip = n
			case 0xc5, 0xda: // bin16, str16
				n, i, ok = readLen(b, i, 2)
				skip = n
			case 0xc6, 0xdb: // bin32, str32
				n, i, ok = readLen(b, i, 4)
				skip = n
			case 0xc7: // ext8: len, type, data
				n, i, ok = readLen(b, i, 1)
				skip = n + 1
			case 0xc8: // ext16
				n, i, ok = readLen(b, i, 2)
				skip = n + 1
			case 0xc9: // ext32
				n, i, ok = readLen(b, i, 4)
				skip = n + 1
			case 0xca, 0xce, 0xd2: // float32, uint32, int32
				skip, ok = 4, true
			case 0xcb, 0xcf, 0xd3: // float64, uint64, int64
				skip, ok = 8, true
			case 0xcc, 0xd0: // uint8, int8
				skip, ok = 1, true
			case 0xcd, 0xd1: // uint16, int16
				skip, ok = 2, true
			case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16 plus the type byte
				skip, ok = 1+uint64(1)<<(c-0xd4), true
			case 0xdc: // array16
				count, i, ok = readLen(b, i, 2)
				container = true
			case 0xdd: // array32
				count, i, ok = readLen(b, i, 4)
				container = true
			case 0xde: // map16
				count, i, ok = readLen(b, i, 2)
				count, container = 2*count, true
			case 0xdf: // map32
				count, i, ok = readLen(b, i, 4)
				count, container = 2*count, true
			}
			if !ok {
				return errMsgpackTruncated
			}
		}
		if skip > uint64(len(b)-i) {
			return errMsgpackTruncated
		}
		i += int(skip)
		if container && count > 0 {
			// Every value takes at least one byte.
			if pending+count > uint64(len(b)-i) {
				return errMsgpackLength
			}
			if depth == msgpackMaxDepth {
				return errMsgpackDepth
			}
			stack[depth] = count
			depth++
			pending += count
		}
	}
	if i != len(b) {
		return errMsgpackTrailing
	}
	return nil
}

// readLen reads a big-endian length of size bytes at b[i:].
func readLen(b []byte, i, size int) (uint64, int, bool) {
	if len(b)-i < size {
		return 0, i, false
	}
	switch size {
	case 1:
		return uint64(b[i]), i + 1, true
	case 2:
		return uint64(binary.BigEndian.Uint16(b[i:])), i + 2, true
	}
	return uint64(binary.BigEndian.Uint32(b[i:])), i + 4, true
}
