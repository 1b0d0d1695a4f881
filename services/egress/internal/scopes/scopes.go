// Package scopes is egress's in-memory copy of the relay_scope bucket,
// indexed by chat id: a reply action names only its chat (and perhaps its
// platform), while the bucket's keys are "<platform>.<chat>".
//
// An [Index] is a [github.com/relaybus/relaybus/services/egress/internal/kvwatch.Sink];
// lookups are safe for concurrent use with the watcher's updates and cost
// one read-locked map access.
package scopes

import (
	"strings"
	"sync"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/services/egress/internal/kvwatch"
)

// Record is one chat's scope on one platform.
type Record struct {
	Platform string
	ChatID   string
	Scope    events.Scope
	Revision uint64
}

// Outcome says how a lookup went.
type Outcome int

// Lookup outcomes.
const (
	// Miss: nothing is known for the chat (on that platform).
	Miss Outcome = iota
	// Hit: one record matched.
	Hit
	// Ambiguous: the chat id exists on several platforms, the action named
	// none and the primary platform is not among them.
	Ambiguous
)

// Index maps chat id → records by platform. The zero value is not usable;
// call [New].
type Index struct {
	mu      sync.RWMutex
	byChat  map[string][]Record
	entries int
	// bad counts values that could not be decoded.
	bad int
}

// New returns an empty index.
func New() *Index { return &Index{byChat: make(map[string][]Record)} }

// ParseKey splits a relay_scope key ("<platform>.<chat>", each part an
// events.SubjectToken with '%' written as '=') into platform and chat id.
func ParseKey(key string) (platform, chatID string, ok bool) {
	p, c, found := strings.Cut(key, ".")
	if !found {
		return "", "", false
	}
	platform, ok1 := events.UnSubjectToken(strings.ReplaceAll(p, "=", "%"))
	chatID, ok2 := events.UnSubjectToken(strings.ReplaceAll(c, "=", "%"))
	if !ok1 || !ok2 {
		return "", "", false
	}
	return platform, chatID, true
}

// DecodeValue decodes a scope record as the converter writes it
// (MessagePack); a value that starts with '{' is read as JSON, so that a
// record written by hand or by a script is understood too.
func DecodeValue(v []byte) (events.Scope, error) {
	var s events.Scope
	ct := events.ContentTypeMsgpack
	if len(v) > 0 && v[0] == '{' {
		ct = events.ContentTypeJSON
	}
	err := events.Unmarshal(v, ct, &s)
	return s, err
}

// decode turns a bucket entry into a record.
func decode(e kvwatch.Entry) (Record, bool) {
	platform, chat, ok := ParseKey(e.Key)
	if !ok {
		return Record{}, false
	}
	r := Record{Platform: platform, ChatID: chat, Revision: e.Revision}
	if e.Deleted {
		return r, true
	}
	s, err := DecodeValue(e.Value)
	if err != nil {
		return Record{}, false
	}
	r.Scope = s
	return r, true
}

// Reset replaces the index with a snapshot of the bucket.
func (x *Index) Reset(entries []kvwatch.Entry) {
	m := make(map[string][]Record, len(entries))
	n, bad := 0, 0
	for _, e := range entries {
		r, ok := decode(e)
		if !ok {
			bad++
			continue
		}
		if upsert(m, r) {
			n++
		}
	}
	x.mu.Lock()
	x.byChat, x.entries, x.bad = m, n, x.bad+bad
	x.mu.Unlock()
}

// Apply applies one change of the bucket.
func (x *Index) Apply(e kvwatch.Entry) {
	r, ok := decode(e)
	x.mu.Lock()
	defer x.mu.Unlock()
	switch {
	case !ok:
		x.bad++
	case e.Deleted:
		if remove(x.byChat, r.Platform, r.ChatID) {
			x.entries--
		}
	default:
		if upsert(x.byChat, r) {
			x.entries++
		}
	}
}

// Merge adds a record read directly from the bucket (a cache miss answered
// by a KV get) unless the index already holds that key at the same or a
// newer revision.
func (x *Index) Merge(r Record) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, have := range x.byChat[r.ChatID] {
		if have.Platform == r.Platform && have.Revision >= r.Revision {
			return
		}
	}
	if upsert(x.byChat, r) {
		x.entries++
	}
}

// upsert stores r and reports whether it added a key.
func upsert(m map[string][]Record, r Record) bool {
	recs := m[r.ChatID]
	for i := range recs {
		if recs[i].Platform == r.Platform {
			recs[i] = r
			return false
		}
	}
	m[r.ChatID] = append(recs, r)
	return true
}

// remove deletes a key and reports whether it was there.
func remove(m map[string][]Record, platform, chatID string) bool {
	recs := m[chatID]
	for i := range recs {
		if recs[i].Platform == platform {
			if len(recs) == 1 {
				delete(m, chatID)
			} else {
				m[chatID] = append(recs[:i:i], recs[i+1:]...)
			}
			return true
		}
	}
	return false
}

// Lookup finds the scope of chatID. With platform set only that platform's
// record matches. Without it, the chat's only record matches; when the chat
// id is known on several platforms, the record of primary (if any) matches,
// otherwise the outcome is Ambiguous.
func (x *Index) Lookup(chatID, platform, primary string) (Record, Outcome) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	recs := x.byChat[chatID]
	if platform != "" {
		for _, r := range recs {
			if r.Platform == platform {
				return r, Hit
			}
		}
		return Record{}, Miss
	}
	switch len(recs) {
	case 0:
		return Record{}, Miss
	case 1:
		return recs[0], Hit
	}
	for _, r := range recs {
		if primary != "" && r.Platform == primary {
			return r, Hit
		}
	}
	return Record{}, Ambiguous
}

// Len returns the number of keys (chat × platform) held.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.entries
}

// Chats returns the number of distinct chat ids held.
func (x *Index) Chats() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.byChat)
}

// Undecodable returns how many bucket entries could not be decoded so far.
func (x *Index) Undecodable() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.bad
}
