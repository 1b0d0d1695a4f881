// Package scopes is egress's in-memory cache of the relay_scope bucket,
// indexed by chat id: a reply action names only its chat (and perhaps its
// platform), while the bucket's keys are "<platform>.<chat>".
//
// An [Index] is a [github.com/relaybus/relaybus/services/egress/internal/kvwatch.Sink];
// lookups are safe for concurrent use with the watcher's updates and cost
// one locked map access. It is bounded: it holds at most its maximum of
// keys and, when full, forgets the least recently used (looked up, written
// or merged) one. The bucket stays the source of truth: a miss is answered
// by a KV get (egress's fetchScope), which merges the record back.
package scopes

import (
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"

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

// key is one bucket key: a chat on a platform.
type key struct{ platform, chat string }

// Index maps chat id → records by platform, for at most its maximum of
// keys. The zero value is not usable; call [New].
type Index struct {
	mu  sync.Mutex
	lru *simplelru.LRU[key, Record]
	// byChat lists the platforms held per chat id (kept in step with lru
	// by its eviction callback).
	byChat map[string][]string
	// bad counts values that could not be decoded.
	bad int
	// evicted counts keys forgotten because the index was full.
	evicted uint64
}

// New returns an empty index holding at most maxEntries keys (chat ×
// platform); maxEntries < 1 is taken as 1.
func New(maxEntries int) *Index {
	x := &Index{byChat: make(map[string][]string)}
	x.lru, _ = simplelru.NewLRU(max(maxEntries, 1), func(k key, _ Record) { x.unlink(k) })
	return x
}

// unlink removes k from byChat; lru's eviction callback (x.mu held).
func (x *Index) unlink(k key) {
	ps := x.byChat[k.chat]
	i := slices.Index(ps, k.platform)
	switch {
	case i < 0:
	case len(ps) == 1:
		delete(x.byChat, k.chat)
	default:
		x.byChat[k.chat] = slices.Delete(slices.Clone(ps), i, i+1)
	}
}

// add stores r as the most recently used key (x.mu held).
func (x *Index) add(r Record) {
	k := key{r.Platform, r.ChatID}
	if !x.lru.Contains(k) {
		x.byChat[k.chat] = append(x.byChat[k.chat], k.platform)
	}
	if x.lru.Add(k, r) {
		x.evicted++
	}
}

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

// Reset replaces the index with a snapshot of the bucket. When the
// snapshot holds more keys than the index may, the most recently written
// ones (highest revisions) are kept; the rest count as evicted.
func (x *Index) Reset(entries []kvwatch.Entry) {
	recs := make([]Record, 0, len(entries))
	bad := 0
	for _, e := range entries {
		r, ok := decode(e)
		if !ok || e.Deleted {
			bad += btoi(!ok)
			continue
		}
		recs = append(recs, r)
	}
	slices.SortStableFunc(recs, func(a, b Record) int {
		switch {
		case a.Revision < b.Revision:
			return -1
		case a.Revision > b.Revision:
			return 1
		}
		return 0
	})
	x.mu.Lock()
	defer x.mu.Unlock()
	x.lru.Purge()
	x.byChat = make(map[string][]string, len(recs))
	for _, r := range recs {
		x.add(r)
	}
	x.bad += bad
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
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
		x.lru.Remove(key{r.Platform, r.ChatID})
	default:
		x.add(r)
	}
}

// Merge adds a record read directly from the bucket (a cache miss answered
// by a KV get) unless the index already holds that key at the same or a
// newer revision.
func (x *Index) Merge(r Record) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if have, ok := x.lru.Peek(key{r.Platform, r.ChatID}); ok && have.Revision >= r.Revision {
		return
	}
	x.add(r)
}

// Lookup finds the scope of chatID. With platform set only that platform's
// record matches. Without it, the chat's only record matches; when the chat
// id is known on several platforms, the record of primary (if any) matches,
// otherwise the outcome is Ambiguous.
//
// A hit makes the key the most recently used. Only keys still held are
// seen: after an eviction a chat known on two platforms may look known on
// one, which a lookup naming no platform then matches (the same record a
// KV get for that platform would return).
func (x *Index) Lookup(chatID, platform, primary string) (Record, Outcome) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if platform != "" {
		if r, ok := x.lru.Get(key{platform, chatID}); ok {
			return r, Hit
		}
		return Record{}, Miss
	}
	ps := x.byChat[chatID]
	switch {
	case len(ps) == 0:
		return Record{}, Miss
	case len(ps) == 1:
		platform = ps[0]
	case primary != "" && slices.Contains(ps, primary):
		platform = primary
	default:
		return Record{}, Ambiguous
	}
	r, _ := x.lru.Get(key{platform, chatID})
	return r, Hit
}

// Len returns the number of keys (chat × platform) held.
func (x *Index) Len() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.lru.Len()
}

// Chats returns the number of distinct chat ids held.
func (x *Index) Chats() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.byChat)
}

// Undecodable returns how many bucket entries could not be decoded so far.
func (x *Index) Undecodable() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.bad
}

// Evictions returns how many keys were forgotten so far because the index
// was full.
func (x *Index) Evictions() uint64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.evicted
}
