// Package jsonstr writes JSON strings for the hand-written encoders of
// pkg/events (actions) and pkg/wire (connector frames). It is internal so
// that neither package has to export it and pkg/events need not import the
// wire package.
package jsonstr

import "encoding/json"

// Append appends s as a JSON string, escaped as encoding/json escapes it
// (HTML-safe).
func Append(dst []byte, s string) []byte {
	simple := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 || c == '<' || c == '>' || c == '&' {
			simple = false
			break
		}
	}
	if simple {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}
