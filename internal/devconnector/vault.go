package devconnector

import "time"

// vaultEntry is one vaulted Discord interaction token.
type vaultEntry struct {
	token       string
	at          time.Time
	sessionKey  string
	interaction string
}

// tokenVault keeps interaction tokens the way the hosted connector does, so
// that follow_up works without the gateway ever holding a token. Entries are
// found by session key (newest interaction wins) and by interaction id. It is
// bounded: at most limit entries, oldest evicted first, and entries older
// than twice the TTL are swept on insert (between TTL and 2×TTL a lookup
// reports "expired" rather than "missing"). Server.mu guards it.
type tokenVault struct {
	limit         int
	ttl           time.Duration
	bySession     map[string]*vaultEntry
	byInteraction map[string]*vaultEntry
	queue         []*vaultEntry
	head          int
}

func newTokenVault(limit int, ttl time.Duration) tokenVault {
	return tokenVault{
		limit:         limit,
		ttl:           ttl,
		bySession:     make(map[string]*vaultEntry),
		byInteraction: make(map[string]*vaultEntry),
	}
}

func (v *tokenVault) put(sessionKey, interactionID, token string, now time.Time) {
	e := &vaultEntry{token: token, at: now, sessionKey: sessionKey, interaction: interactionID}
	for v.head < len(v.queue) {
		old := v.queue[v.head]
		if len(v.queue)-v.head < v.limit && now.Sub(old.at) <= 2*v.ttl {
			break
		}
		v.evict(old)
		v.queue[v.head] = nil
		v.head++
	}
	if v.head > 1024 && v.head > len(v.queue)/2 {
		v.queue = append(v.queue[:0:0], v.queue[v.head:]...)
		v.head = 0
	}
	v.queue = append(v.queue, e)
	if sessionKey != "" {
		v.bySession[sessionKey] = e
	}
	if interactionID != "" {
		v.byInteraction[interactionID] = e
	}
}

func (v *tokenVault) evict(e *vaultEntry) {
	if v.bySession[e.sessionKey] == e {
		delete(v.bySession, e.sessionKey)
	}
	if v.byInteraction[e.interaction] == e {
		delete(v.byInteraction, e.interaction)
	}
}

// lookup finds the token for a follow_up: by interaction id when one is
// given and known, else by session key. It reports found=false when nothing
// is vaulted and expired=true when the token is older than the TTL.
func (v *tokenVault) lookup(sessionKey, interactionID string, now time.Time) (e *vaultEntry, found, expired bool) {
	if interactionID != "" {
		e = v.byInteraction[interactionID]
	}
	if e == nil {
		e = v.bySession[sessionKey]
	}
	if e == nil {
		return nil, false, false
	}
	return e, true, now.Sub(e.at) > v.ttl
}

func (v *tokenVault) size() int { return len(v.queue) - v.head }
