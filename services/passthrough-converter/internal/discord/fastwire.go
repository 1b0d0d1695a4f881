package discord

import gojson "github.com/goccy/go-json"

// The fast decoders read the wire types (wire.go) with
// github.com/goccy/go-json, which decodes by the same struct tags as
// encoding/json, so a field added to wire.go is read on the fast path
// without a second list to keep in step. encoding/json checks a document in
// one pass and decodes it in another, through reflection: for a 2–3 KB
// interaction that was the converter's largest cost.
//
// Why this library, measured on 2026-12-05 (docs/performance.md, "Discord
// fast path"): `go test -run '^$' -bench . ./internal/discord` per body,
// before → after: 02 8.1–10.1 µs → 4.6–5.6 µs, 08 15.9–19.0 µs →
// 10.2–11.4 µs, 11 21.9–27.5 µs → 14.0–15.9 µs (the hand-written decoder it
// replaces, 759 lines, repeated every tag by hand). segmentio/encoding
// v0.5.4 was slower than that hand decoder (02 ≈ 11–17 µs for the decode
// alone) and allocates twice the bytes.
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
