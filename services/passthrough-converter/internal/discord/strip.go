package discord

import "github.com/relaybus/relaybus/pkg/wire/jsonscan"

// StripToken returns body without its top-level interaction token and
// reports whether one was present, so that a body can be kept (for example
// dead-lettered) without the credential.
//
// Every top-level member whose key is "token" in any letter case is removed
// (encoding/json matches keys case-insensitively, so a "Token" key would
// reach a Go decoder's token field just the same). The removal is done on a
// copy: all other bytes, including member order, whitespace, number
// spelling and duplicate keys, are kept exactly. Nested "token" keys are
// not touched.
//
// A body that is not a JSON object (not JSON, an array, truncated) is
// returned unchanged with false: there is no top-level member to remove,
// and the caller decides what to do with bytes it cannot parse. StripToken
// never panics and does not modify body. It is safe for concurrent use.
//
// It is jsonscan.WithoutKey, the relay's one token stripping (the dev
// connector strips the token it vaults with it too).
func StripToken(body []byte) ([]byte, bool) { return jsonscan.WithoutKey(body, "token") }
