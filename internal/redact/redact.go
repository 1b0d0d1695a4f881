// Package redact removes credentials from what the relay keeps or logs
// about a message it could not process: the dead-letter payload, its
// headers and its log line.
//
// The connector contract says the gateway never holds a provider
// credential (the connector vaults the Discord interaction token before it
// forwards a body), and that a token still found in a forwarded body must
// not travel further. A dead letter is kept for days, shown by `relay dlq
// show` and re-sent by `relay dlq replay`, so it is "further". Payload
// removes credentials from any shape a stage may hand its dead-letter
// writer:
//
//   - A JSON document (a raw connector frame, a JSON action): every member
//     whose key is a credential name (CredentialKey: "token" and a few
//     others, in any letter case, at any depth) is removed; a forwarded
//     header pair named like a credential (Authorization, Cookie, …) keeps
//     its name and loses its value; a "bodyB64" string is decoded leniently
//     (characters outside the alphabet skipped, as the reference gateway
//     did) and, when the body is JSON, cleaned the same way and re-encoded.
//     A body that is not JSON is kept when it decoded strictly and holds no
//     "token" text; otherwise it is replaced by "" (it cannot be parsed,
//     so it cannot be cleaned). Everything else is kept byte for byte:
//     member order, whitespace, numbers, duplicate keys.
//   - MessagePack (Msgpack, for actions): credential-named keys removed at
//     any depth.
//   - Anything else (not JSON, a frame cut at the size limit, MessagePack
//     that does not decode): kept up to the first place a credential could
//     start ("token" or "bodyB64" in any case, or a \u escape that could
//     spell one), and cut there.
//
// What was removed is reported as short notes (JSON paths, never values),
// which the dead-letter writer stores in the Relay-Redacted header.
package redact

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/wire/jsonscan"
)

// Placeholder replaces a credential value that is kept in place (a header
// pair's value, a whole credential header).
const Placeholder = "[redacted]"

// credentialKeys are the member names removed from JSON payloads, compared
// case-insensitively (encoding/json would read "Token" into a token field).
var credentialKeys = []string{"token", "access_token", "refresh_token", "client_secret", "password", "authorization", "cookie"}

// CredentialKey reports whether a JSON member or header named name holds a
// credential.
func CredentialKey(name string) bool {
	for _, k := range credentialKeys {
		if strings.EqualFold(name, k) {
			return true
		}
	}
	return false
}

// credentialHeaders are forwarded HTTP headers whose values are secrets.
var credentialHeaders = []string{"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token"}

// CredentialHeader reports whether an HTTP or NATS header named name holds
// a credential: the usual ones, and any name containing "token",
// "secret" or "password".
func CredentialHeader(name string) bool {
	for _, k := range credentialHeaders {
		if strings.EqualFold(name, k) {
			return true
		}
	}
	l := strings.ToLower(name)
	return strings.Contains(l, "token") || strings.Contains(l, "secret") || strings.Contains(l, "password")
}

// maxDepth bounds the recursion into nested JSON; deeper values are kept
// only when they hold no credential text at all.
const maxDepth = 32

// Msgpack is Payload for a MessagePack payload (an action egress
// dead-letters): a value that decodes (with the bus's bounds) has its
// credential-named map keys removed at any depth and, only then, is
// re-encoded (sorted keys, as events.Marshal writes); one that does not
// decode is cut like any opaque payload. A value such as a follow_up's
// kind "discord.interaction_token" is not a credential and stays.
func Msgpack(data []byte) (clean []byte, notes []string, secrets []string) {
	var v any
	if err := events.Unmarshal(data, events.ContentTypeMsgpack, &v); err != nil {
		r := &redactor{}
		return r.opaque(data, ""), r.notes, r.secrets
	}
	r := &redactor{}
	if !r.walk(v, "", 0) {
		return data, nil, nil
	}
	out, err := events.Marshal(v, events.ContentTypeMsgpack)
	if err != nil {
		return nil, append(r.notes, "payload removed: it could not be re-encoded"), r.secrets
	}
	return out, r.notes, r.secrets
}

// walk removes credential keys from a decoded value in place and reports
// whether it removed any.
func (r *redactor) walk(v any, path string, depth int) bool {
	if depth > maxDepth {
		return false
	}
	changed := false
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if CredentialKey(k) {
				if s, ok := e.(string); ok {
					r.secrets = append(r.secrets, s)
				}
				delete(x, k)
				r.note("%p: removed", join(path, k))
				changed = true
				continue
			}
			changed = r.walk(e, join(path, k), depth+1) || changed
		}
	case []any:
		for i, e := range x {
			changed = r.walk(e, path+"["+strconv.Itoa(i)+"]", depth+1) || changed
		}
	}
	return changed
}

// Payload returns data without credentials, and notes naming what was
// removed (nil when nothing was). data is never modified; when nothing is
// removed the result is data itself. The values removed are returned too
// (secrets, for Scrub; never to be logged).
func Payload(data []byte) (clean []byte, notes []string, secrets []string) {
	r := &redactor{}
	if jsonscan.Valid(data) {
		clean = r.value(data, "", 0)
	} else {
		clean = r.opaque(data, "")
	}
	return clean, r.notes, r.secrets
}

type redactor struct {
	notes   []string
	secrets []string
}

func (r *redactor) note(format string, path string, extra ...string) {
	n := strings.ReplaceAll(format, "%p", path)
	for _, e := range extra {
		n += " " + e
	}
	r.notes = append(r.notes, n)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// value returns the valid JSON value v without credentials.
func (r *redactor) value(v []byte, path string, depth int) []byte {
	t := jsonscan.TrimSpace(v)
	if len(t) == 0 || (t[0] != '{' && t[0] != '[') {
		return v
	}
	if depth >= maxDepth {
		if containsFold(v, "token") || bytes.Contains(v, []byte(`\u`)) {
			r.note("%p: removed (nested too deep to clean)", path)
			return []byte("null")
		}
		return v
	}
	if t[0] == '[' {
		return r.array(v, path, depth)
	}
	return r.object(v, path, depth)
}

func (r *redactor) object(b []byte, path string, depth int) []byte {
	var spans []jsonscan.Span
	changed := false
	jsonscan.Members(b, func(key, val []byte, start, end int) {
		name, _ := jsonscan.Unquote(key)
		s := jsonscan.Span{Start: start, End: end}
		p := join(path, name)
		valStart := end - len(val)
		switch {
		case CredentialKey(name):
			s.Drop = true
			r.note("%p: removed", p)
			if v, ok := jsonscan.Unquote(val); ok {
				r.secrets = append(r.secrets, v)
			}
		case strings.EqualFold(name, "bodyB64") && len(val) > 0 && val[0] == '"':
			if nv := r.body(val, p); nv != nil {
				s.Repl = append(append([]byte(nil), b[start:valStart]...), nv...)
			}
		case strings.EqualFold(name, "headers") && len(val) > 0 && val[0] == '[':
			if nv := r.headerPairs(val, p, depth+1); nv != nil {
				s.Repl = append(append([]byte(nil), b[start:valStart]...), nv...)
			}
		default:
			if nv := r.value(val, p, depth+1); !sameSlice(nv, val) {
				s.Repl = append(append([]byte(nil), b[start:valStart]...), nv...)
			}
		}
		changed = changed || s.Drop || s.Repl != nil
		spans = append(spans, s)
	})
	if !changed {
		return b
	}
	return jsonscan.Splice(b, spans)
}

func (r *redactor) array(b []byte, path string, depth int) []byte {
	spans := elements(b)
	changed := false
	for k := range spans {
		s := &spans[k]
		val := b[s.Start:s.End]
		if nv := r.value(val, path+"["+strconv.Itoa(k)+"]", depth+1); !sameSlice(nv, val) {
			s.Repl = nv
			changed = true
		}
	}
	if !changed {
		return b
	}
	return jsonscan.Splice(b, spans)
}

// headerPairs cleans a forwarded "headers" array: a [name, value] pair
// whose name is a credential header keeps its name, and its value becomes
// Placeholder; anything else is cleaned as JSON. It returns nil when
// nothing changed.
func (r *redactor) headerPairs(b []byte, path string, depth int) []byte {
	spans := elements(b)
	changed := false
	for k := range spans {
		s := &spans[k]
		val := b[s.Start:s.End]
		p := path + "[" + strconv.Itoa(k) + "]"
		if pair := elements(val); len(pair) == 2 {
			name, okName := jsonscan.Unquote(val[pair[0].Start:pair[0].End])
			if okName && CredentialHeader(name) {
				if v, ok := jsonscan.Unquote(val[pair[1].Start:pair[1].End]); ok {
					r.secrets = append(r.secrets, v)
				}
				pair[1].Repl = []byte(strconv.Quote(Placeholder))
				s.Repl = jsonscan.Splice(val, pair)
				r.note("%p: value of header "+strconv.Quote(clipName(name))+" removed", p)
				changed = true
				continue
			}
		}
		if nv := r.value(val, p, depth+1); !sameSlice(nv, val) {
			s.Repl = nv
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return jsonscan.Splice(b, spans)
}

// body cleans the string literal lit of a bodyB64 member. It returns the
// replacement literal, or nil to keep lit.
func (r *redactor) body(lit []byte, path string) []byte {
	s, ok := jsonscan.Unquote(lit)
	if !ok {
		return nil
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(s)
	strict := err == nil
	if !strict {
		raw = lenientBase64(s)
	}
	if t := jsonscan.TrimSpace(raw); jsonscan.Valid(t) && (t[0] == '{' || t[0] == '[' || !containsFold(t, "token")) {
		sub := &redactor{}
		clean := sub.value(raw, "", 0)
		r.secrets = append(r.secrets, sub.secrets...)
		if sameSlice(clean, raw) {
			return nil
		}
		for _, n := range sub.notes {
			r.notes = append(r.notes, path+" (decoded): "+n)
		}
		if !strict {
			r.note("%p: re-encoded as strict base64 (it was not)", path)
		}
		return []byte(strconv.Quote(base64.StdEncoding.EncodeToString(clean)))
	}
	if strict && !containsFold(raw, "token") {
		return nil
	}
	// Not JSON and either not strict base64 (what it decodes to depends on
	// the decoder) or naming a token: it cannot be cleaned, so it goes.
	r.note("%p: removed (not strict base64 of JSON, or naming a token; "+strconv.Itoa(len(s))+" characters)", path)
	return []byte(`""`)
}

// opaque cuts data that is not one JSON value at the first place a
// credential could begin.
func (r *redactor) opaque(data []byte, path string) []byte {
	cut := len(data)
	for _, m := range []string{"token", "bodyb64"} {
		if i := indexFold(data, m); i >= 0 && i < cut {
			cut = i
		}
	}
	if i := bytes.Index(data, []byte(`\u`)); i >= 0 && i < cut {
		cut = i
	}
	if cut == len(data) {
		return data
	}
	// Do not leave half a UTF-8 sequence at the cut.
	for cut > 0 && !utf8.RuneStart(data[cut]) {
		cut--
	}
	r.note("payload cut at byte "+strconv.Itoa(cut)+" of "+strconv.Itoa(len(data))+": not JSON, and a credential could follow", path)
	return data[:cut:cut]
}

// elements returns the spans of the elements of the JSON array b (which
// must be valid).
func elements(b []byte) []jsonscan.Span {
	i := jsonscan.SkipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil
	}
	i = jsonscan.SkipSpace(b, i+1)
	var out []jsonscan.Span
	if i < len(b) && b[i] == ']' {
		return out
	}
	for i < len(b) {
		end, st := jsonscan.Value(b, i, jsonscan.MaxDepth-1)
		if st != jsonscan.OK {
			return nil
		}
		out = append(out, jsonscan.Span{Start: i, End: end})
		i = jsonscan.SkipSpace(b, end)
		if i >= len(b) || b[i] != ',' {
			break
		}
		i = jsonscan.SkipSpace(b, i+1)
	}
	return out
}

// lenientBase64 decodes s as the reference gateway did: characters outside
// the standard alphabet (padding included) are skipped, and a dangling
// final character is ignored.
func lenientBase64(s string) []byte {
	buf := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' {
			buf = append(buf, c)
		}
	}
	if len(buf)%4 == 1 {
		buf = buf[:len(buf)-1]
	}
	out, _ := base64.RawStdEncoding.DecodeString(string(buf))
	return out
}

func sameSlice(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

func containsFold(b []byte, s string) bool { return indexFold(b, s) >= 0 }

// indexFold is the index of the first ASCII case-insensitive occurrence of
// the lower-case s in b, or -1.
func indexFold(b []byte, s string) int {
	n := len(s)
	for i := 0; i+n <= len(b); i++ {
		if b[i]|0x20 == s[0] && bytes.EqualFold(b[i:i+n], []byte(s)) {
			return i
		}
	}
	return -1
}

func clipName(s string) string { return Clip(s, 64) }

// Clip returns s cut to at most n bytes (at a UTF-8 boundary), with the
// number of bytes cut appended, for log lines and headers: a 3 MB id must
// not become a 3 MB log line.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(+" + strconv.Itoa(len(s)-cut) + " bytes)"
}

// Scrub replaces every occurrence of each secret (at least 4 bytes long) in
// s with Placeholder.
func Scrub(s string, secrets []string) string {
	for _, v := range secrets {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, Placeholder)
		}
	}
	return s
}

// Holds reports whether data holds secret in plain text or inside standard
// or URL-safe base64 at any of the three alignments (the checks of the
// tests that prove a secret never reaches a dead letter or a log).
func Holds(data []byte, secret string) bool {
	if secret == "" {
		return false
	}
	if bytes.Contains(data, []byte(secret)) {
		return true
	}
	for off := range 3 {
		in := append(make([]byte, off), secret...)
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			e := enc.EncodeToString(in)
			// The characters fully determined by the secret's bytes.
			from, to := (off+2)/3*4, (off+len(secret))/3*4
			if to-from >= 8 && bytes.Contains(data, []byte(e[from:to])) {
				return true
			}
		}
	}
	return false
}
