package discord

import gojson "github.com/goccy/go-json"

// The fast decoders read the wire types (wire.go) with
// github.com/goccy/go-json, which decodes by the same struct tags as
// encoding/json, so a field added to wire.go is read on the fast path
// without a second list to keep in step. encoding/json checks a document in
// one pass and decodes it in another, through reflection: for a 2–3 KB
// interaction that was the converter's largest cost.
//
// Why this library (docs/performance.md, "Discord fast path: a library
// instead of a hand-kept decoder"): Convert per body, the hand decoder this
// replaced (759 lines, every tag repeated by hand) against goccy/go-json,
// six interleaved runs of `go test -run '^$' -bench . ./internal/discord`
// on a shared 2-core machine, median (min–max) µs: 02 6.4 (4.1–8.5) → 5.6
// (3.6–6.8), 08 11.9 (7.4–17.1) → 8.1 (5.2–13.4), 11 14.7 (11.1–21.9) →
// 10.3 (7.3–16.1), all within the 12–13, 19–22 and 24–26 µs.
// segmentio/encoding v0.5.4 decoded the same bodies 1.5–2.5× slower than
// the hand decoder, allocating two to five times the bytes, and was dropped.
//
// Semantics: goccy/go-json agreed with encoding/json on every input in
// fuzzing (duplicate keys merge or replace the same way, keys match
// case-insensitively under the same folding, invalid UTF-8 becomes U+FFFD,
// the nesting limit is the same 10000). The contract does not rest on that:
// a fast decoder only answers true when the library decoded without error,
// and then it must equal json.Unmarshal into a zero value (FuzzFastDecoders
// and TestFastDecodersReadEveryField check this). Whenever it reports an
// error — or panics — the decoder reports false with a zero value and the
// caller uses encoding/json, which also produces the precise error.

// fastDecodeInteraction decodes body into a zero *in.
func fastDecodeInteraction(body []byte, in *wireInteraction) bool { return fastDecode(body, in) }

// fastDecodeResolved decodes raw into a zero *res.
func fastDecodeResolved(raw []byte, res *wireResolved) bool { return fastDecode(raw, res) }

// fastDecodeComponents decodes raw into a nil *comps.
func fastDecodeComponents(raw []byte, comps *[]wireComponent) bool { return fastDecode(raw, comps) }

// fastDecode decodes b into the zero value *v, or reports false and leaves
// *v zero.
func fastDecode[T any](b []byte, v *T) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
		if !ok {
			var zero T
			*v = zero
		}
	}()
	return gojson.Unmarshal(b, v) == nil
}
