package converter

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/pkg/events"
)

// scopeCache remembers the scope record this replica last stored (or saw)
// per chat, so that a busy chat costs no KV write per message. It is bounded:
// when full it starts over, which costs one KV read per chat afterwards.
type scopeCache struct {
	mu  sync.Mutex
	max int
	m   map[string]events.Scope
	// stripes serialize the check-and-write of one chat's record, so that
	// concurrent workers seeing a new chat write it once, not once each.
	stripes [64]sync.Mutex
	seed    maphash.Seed
}

// lock locks the stripe of key and returns its unlock.
func (c *scopeCache) lock(key string) func() {
	m := &c.stripes[maphash.String(c.seed, key)%uint64(len(c.stripes))]
	m.Lock()
	return m.Unlock
}

func newScopeCache(max int) *scopeCache {
	return &scopeCache{max: max, m: make(map[string]events.Scope), seed: maphash.MakeSeed()}
}

func (c *scopeCache) get(key string) (events.Scope, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[key]
	return s, ok
}

func (c *scopeCache) put(key string, s events.Scope) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[key] = s
}

func (c *scopeCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// recordScope stores the chat's scope record unless this replica already
// knows it is current. It returns when the write is durable.
//
// The record names the identity the chat's traffic came in on: the
// forward's bot for a passthrough, else the configured bot of the event's
// platform (GATEWAY_RELAY_BOT_IDS).
func (s *Service) recordScope(ctx context.Context, ev *events.MessageEvent) error {
	src := ev.Source
	want := events.ScopeOf(src)
	if ev.Forward != nil && ev.Forward.BotID != "" {
		want.BotID = ev.Forward.BotID
	} else {
		want.BotID = s.cfg.Identities.BotID(src.Platform)
	}
	key := events.ScopeKey(src.Platform, src.ChatID)
	if have, ok := s.scopes.get(key); ok && have.SameRoute(want) {
		s.metrics.scopeWrites.WithLabelValues("unchanged").Inc()
		return nil
	}
	defer s.scopes.lock(key)()
	if have, ok := s.scopes.get(key); ok && have.SameRoute(want) {
		s.metrics.scopeWrites.WithLabelValues("unchanged").Inc()
		return nil
	}
	kv, err := s.scopeKV.Get(ctx)
	if err != nil {
		return err
	}
	if e, err := kv.Get(ctx, key); err == nil {
		var have events.Scope
		if events.Unmarshal(e.Value(), events.ContentTypeMsgpack, &have) == nil && have.SameRoute(want) {
			s.scopes.put(key, have)
			s.metrics.scopeWrites.WithLabelValues("unchanged").Inc()
			return nil
		}
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("reading scope %s: %w", key, err)
	}
	want.UpdatedAt = s.Now().UTC().Format(time.RFC3339)
	data, err := events.Marshal(want, events.ContentTypeMsgpack)
	if err != nil {
		return fmt.Errorf("encoding scope: %w", err)
	}
	if _, err := kv.Put(ctx, key, data); err != nil {
		return fmt.Errorf("writing scope %s: %w", key, err)
	}
	s.scopes.put(key, want)
	s.metrics.scopeWrites.WithLabelValues("written").Inc()
	return nil
}
