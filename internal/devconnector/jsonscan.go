package devconnector

import (
	"bytes"

	"github.com/relaybus/relaybus/pkg/wire/jsonscan"
)

// The dev connector reads JSON with the relay's one scanner
// (pkg/wire/jsonscan): the interaction path runs tens of thousands of
// times per second in benchmarks and only needs a handful of keys (and to
// cut the token out) from bodies it must otherwise forward untouched.

// keyIs reports whether a raw JSON key (quotes included) is name.
func keyIs(key []byte, name string) bool { return jsonscan.KeyIs(key, name, false) }

// scalar returns a JSON string's value or a JSON number's text; anything
// else is "".
func scalar(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		s, _ := jsonscan.Unquote(raw)
		return s
	}
	if end, st := jsonscan.Number(raw, 0); st == jsonscan.OK && end == len(raw) && end > 0 {
		return string(raw)
	}
	return ""
}
