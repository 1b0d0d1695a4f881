package wire

import "github.com/relaybus/relaybus/pkg/wire/jsonscan"

// scanForwardFrame is DecodeForwardFrame's fast path for the frames a
// connector actually sends: one object with exactly the keys "type",
// "bufferId" and "forward" (the last an object with the contract's keys),
// each at most once, holding plain strings (no escapes, valid UTF-8) and an
// array of two-string header pairs. It reads the frame once, without
// reflection, and copies only the strings it returns.
//
// It accepts a strict subset of what encoding/json accepts, and on that
// subset returns what the general path returns (FuzzDecodeForwardFrame
// checks this); anything else — another key, a key in another case, a
// duplicate, an escape, null, a wrong type, a malformed header, a missing
// platform or body — reports ok=false and the caller takes the general path,
// which also produces the exact error.
func scanForwardFrame(b []byte) (fwd PassthroughForward, bufferID string, ok bool) {
	fwd, _, bufferID, ok = scanForward(b, true)
	return fwd, bufferID, ok
}

// scanForward is scanForwardFrame; it also returns the bodyB64 string's
// bytes (aliasing b), and leaves fwd.BodyB64 empty unless copyB64.
func scanForward(b []byte, copyB64 bool) (fwd PassthroughForward, b64 []byte, bufferID string, ok bool) {
	s := fwdScanner{b: b, copyB64: copyB64}
	s.ws()
	if !s.consume('{') {
		return fwd, nil, "", false
	}
	const (
		seenType = 1 << iota
		seenBuffer
		seenForward
	)
	seen := 0
	for first := true; ; first = false {
		s.ws()
		if s.consume('}') {
			break
		}
		if !first && !s.comma() {
			return fwd, nil, "", false
		}
		key, ok := s.key()
		if !ok {
			return fwd, nil, "", false
		}
		var bit int
		switch string(key) {
		case "type":
			bit = seenType
			v, ok := s.str()
			if !ok || string(v) != FramePassthroughForward {
				return fwd, nil, "", false
			}
		case "bufferId":
			bit = seenBuffer
			v, ok := s.str()
			if !ok {
				return fwd, nil, "", false
			}
			bufferID = string(v)
		case "forward":
			bit = seenForward
			if !s.forward(&fwd) {
				return fwd, nil, "", false
			}
		default:
			return fwd, nil, "", false
		}
		if seen&bit != 0 {
			return fwd, nil, "", false
		}
		seen |= bit
	}
	s.ws()
	if s.i != len(s.b) || seen&seenType == 0 || seen&seenForward == 0 {
		return PassthroughForward{}, nil, "", false
	}
	return fwd, s.b64, bufferID, true
}

// fwdScanner reads the fast path's JSON subset with the primitives of
// package jsonscan; a method returning false means the input left the
// subset, and the caller gives up.
type fwdScanner struct {
	b []byte
	i int
	// copyB64: bodyB64 is copied into the result; else only b64 (aliasing
	// b) holds it.
	copyB64 bool
	b64     []byte
}

func (s *fwdScanner) ws() { s.i = jsonscan.SkipSpace(s.b, s.i) }

func (s *fwdScanner) consume(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// comma reads the separator between members or elements.
func (s *fwdScanner) comma() bool {
	if !s.consume(',') {
		return false
	}
	s.ws()
	return true
}

// key reads `"name" :` and returns name.
func (s *fwdScanner) key() ([]byte, bool) {
	k, ok := s.str()
	if !ok {
		return nil, false
	}
	s.ws()
	if !s.consume(':') {
		return nil, false
	}
	s.ws()
	return k, true
}

// str reads a string that decodes to its own bytes (no escapes, valid
// UTF-8) and returns them (aliasing the input).
func (s *fwdScanner) str() ([]byte, bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	end, plain, st := jsonscan.String(s.b, s.i)
	if st != jsonscan.OK || !plain {
		return nil, false
	}
	v := s.b[s.i+1 : end-1]
	if !jsonscan.Plain(v) {
		return nil, false // encoding/json would replace the bad bytes
	}
	s.i = end
	return v, true
}

// forward reads the forward object into f.
func (s *fwdScanner) forward(f *PassthroughForward) bool {
	if !s.consume('{') {
		return false
	}
	seen := 0
	hasBody := false
	for first := true; ; first = false {
		s.ws()
		if s.consume('}') {
			break
		}
		if !first && !s.comma() {
			return false
		}
		key, ok := s.key()
		if !ok {
			return false
		}
		var bit int
		var dst *string
		switch string(key) {
		case "platform":
			bit, dst = 1, &f.Platform
		case "botId":
			bit, dst = 2, &f.BotID
		case "method":
			bit, dst = 4, &f.Method
		case "path":
			bit, dst = 8, &f.Path
		case "bodyB64":
			bit = 16
			if s.copyB64 {
				dst = &f.BodyB64
			} else if v, ok := s.str(); ok {
				s.b64 = v
			} else {
				return false
			}
			hasBody = true
		case "profile":
			bit, dst = 32, &f.Profile
		case "headers":
			bit = 64
			if !s.headers(f) {
				return false
			}
		default:
			return false
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		if dst != nil {
			v, ok := s.str()
			if !ok {
				return false
			}
			*dst = string(v)
		}
	}
	return f.Platform != "" && hasBody
}

// headers reads an array of two-string arrays. A pair of any other shape is
// dropped by the general path; here it is a reason to take that path.
func (s *fwdScanner) headers(f *PassthroughForward) bool {
	if !s.consume('[') {
		return false
	}
	for first := true; ; first = false {
		s.ws()
		if s.consume(']') {
			return true
		}
		if !first && !s.comma() {
			return false
		}
		if !s.consume('[') {
			return false
		}
		s.ws()
		name, ok := s.str()
		if !ok {
			return false
		}
		s.ws()
		if !s.comma() {
			return false
		}
		value, ok := s.str()
		if !ok {
			return false
		}
		s.ws()
		if !s.consume(']') {
			return false
		}
		f.Headers = append(f.Headers, [2]string{string(name), string(value)})
	}
}
