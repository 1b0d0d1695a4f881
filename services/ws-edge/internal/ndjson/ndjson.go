// Package ndjson splits a stream of WebSocket message payloads into
// newline-delimited frames (contract §1: every frame is one JSON object
// followed by "\n"; one message may hold several frames and a frame may span
// messages; blank lines are skipped).
//
// A Splitter never allocates per frame: a frame that lies entirely inside the
// chunk being fed is handed out as a sub-slice of that chunk, and only a
// frame that spans chunks is assembled in the Splitter's reusable carry
// buffer. Memory stays bounded by the maximum frame size: an oversized frame
// is skipped up to its newline, keeping only a short prefix for the dead
// letter.
package ndjson

import "bytes"

// PrefixBytes is how many leading bytes of an oversized frame are kept.
const PrefixBytes = 4096

// Handler receives the frames of a Splitter. Frame gets one complete frame
// without its trailing newline; the slice is only valid during the call.
// Oversized gets the first bytes (at most PrefixBytes) of a frame larger than
// the limit and the frame's full size; the prefix is only valid during the
// call.
type Handler interface {
	Frame(b []byte)
	Oversized(prefix []byte, size int)
}

// Splitter turns chunks of bytes into frames. The zero value is not usable;
// build one with New. A Splitter is not safe for concurrent use.
type Splitter struct {
	max      int
	carry    []byte // the start of a frame that spans chunks
	skipping bool   // inside an oversized frame, discarding up to its newline
	skipped  int    // bytes of the oversized frame seen so far
	prefix   []byte // first PrefixBytes of the oversized frame
}

// New returns a Splitter that rejects frames longer than max bytes (not
// counting the newline).
func New(max int) *Splitter {
	if max < 1 {
		max = 1
	}
	return &Splitter{max: max}
}

// Max returns the frame size limit.
func (s *Splitter) Max() int { return s.max }

// Reset drops any partial frame (a new connection starts clean).
func (s *Splitter) Reset() {
	s.carry = s.carry[:0]
	s.skipping = false
	s.skipped = 0
	s.prefix = s.prefix[:0]
}

// Pending reports how many bytes of an unfinished frame are held.
func (s *Splitter) Pending() int {
	if s.skipping {
		return s.skipped
	}
	return len(s.carry)
}

// Feed splits chunk into frames and hands each complete one to h. Bytes after
// the last newline are kept for the next Feed.
func (s *Splitter) Feed(chunk []byte, h Handler) {
	for len(chunk) > 0 {
		nl := indexNL(chunk)
		if s.skipping {
			if nl < 0 {
				s.skip(chunk)
				return
			}
			s.skip(chunk[:nl])
			h.Oversized(s.prefix, s.skipped)
			s.skipping = false
			s.skipped = 0
			s.prefix = s.prefix[:0]
			chunk = chunk[nl+1:]
			continue
		}
		if nl < 0 {
			if len(s.carry)+len(chunk) > s.max {
				s.startSkip(chunk)
				return
			}
			s.carry = append(s.carry, chunk...)
			return
		}
		line := chunk[:nl]
		chunk = chunk[nl+1:]
		if len(s.carry) > 0 {
			if len(s.carry)+len(line) > s.max {
				s.startSkip(line)
				h.Oversized(s.prefix, s.skipped)
				s.skipping = false
				s.skipped = 0
				s.prefix = s.prefix[:0]
				continue
			}
			s.carry = append(s.carry, line...)
			line = s.carry
			s.carry = s.carry[:0] // the bytes stay valid until the next append
		}
		s.emit(line, h)
	}
}

func (s *Splitter) emit(line []byte, h Handler) {
	// The size check comes first so that a line over the limit is reported
	// however the stream was chunked (a long blank line included).
	if len(line) > s.max {
		n := min(len(line), PrefixBytes)
		h.Oversized(line[:n], len(line))
		return
	}
	if blank(line) {
		return
	}
	h.Frame(line)
}

// startSkip switches to skipping: the carry plus b become the oversized
// frame's first bytes.
func (s *Splitter) startSkip(b []byte) {
	s.skipping = true
	s.prefix = s.prefix[:0]
	s.skipped = 0
	s.skip(s.carry)
	s.carry = s.carry[:0]
	s.skip(b)
}

func (s *Splitter) skip(b []byte) {
	if room := PrefixBytes - len(s.prefix); room > 0 {
		s.prefix = append(s.prefix, b[:min(room, len(b))]...)
	}
	s.skipped += len(b)
}

func indexNL(b []byte) int { return bytes.IndexByte(b, '\n') }

// blank reports whether b holds only JSON whitespace.
func blank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}
