// Package descriptors is egress's in-memory copy of the relay_descriptor
// bucket: the negotiated CapabilityDescriptor of every platform the
// connector fronts, written by ws-edge at each handshake.
//
// A [Table] is a [github.com/relaybus/relaybus/services/egress/internal/kvwatch.Sink];
// reads are safe for concurrent use with the watcher's updates.
package descriptors

import (
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/relaybus/relaybus/pkg/descriptor"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/services/egress/internal/kvwatch"
)

// Table maps platform → descriptor. The first platform stored (lowest
// revision in the snapshot, then arrival order) is the primary one, the
// descriptor used when neither the action nor the chat's scope names a
// platform. The zero value is not usable; call [New].
type Table struct {
	mu    sync.RWMutex
	byKey map[string]descriptor.Descriptor
	order []string // platforms, first stored first
	bad   int
}

// New returns an empty table.
func New() *Table { return &Table{byKey: make(map[string]descriptor.Descriptor)} }

// decode reads an entry whose key is events.DescriptorKey(platform) (a
// Token with '%' written as '='; a bare Token reads the same).
func decode(e kvwatch.Entry) (string, descriptor.Descriptor, bool) {
	platform, ok := events.UnSubjectToken(strings.ReplaceAll(e.Key, "=", "%"))
	if !ok {
		return "", descriptor.Descriptor{}, false
	}
	if e.Deleted {
		return platform, descriptor.Descriptor{}, true
	}
	d, err := descriptor.Decode(e.Value)
	if err != nil {
		return "", descriptor.Descriptor{}, false
	}
	return platform, d, true
}

// Reset replaces the table with a snapshot of the bucket.
func (t *Table) Reset(entries []kvwatch.Entry) {
	sorted := slices.Clone(entries)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Revision < sorted[j].Revision })
	m := make(map[string]descriptor.Descriptor, len(sorted))
	var order []string
	bad := 0
	for _, e := range sorted {
		p, d, ok := decode(e)
		if !ok {
			bad++
			continue
		}
		if _, seen := m[p]; !seen {
			order = append(order, p)
		}
		m[p] = d
	}
	t.mu.Lock()
	t.byKey, t.order, t.bad = m, order, t.bad+bad
	t.mu.Unlock()
}

// Apply applies one change of the bucket.
func (t *Table) Apply(e kvwatch.Entry) {
	p, d, ok := decode(e)
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case !ok:
		t.bad++
	case e.Deleted:
		delete(t.byKey, p)
		t.order = slices.DeleteFunc(t.order, func(s string) bool { return s == p })
	default:
		if _, seen := t.byKey[p]; !seen {
			t.order = append(t.order, p)
		}
		t.byKey[p] = d
	}
}

// Get returns the descriptor of platform.
func (t *Table) Get(platform string) (descriptor.Descriptor, bool) {
	t.mu.RLock()
	d, ok := t.byKey[platform]
	t.mu.RUnlock()
	return d, ok
}

// Primary returns the first stored descriptor.
func (t *Table) Primary() (descriptor.Descriptor, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if len(t.order) == 0 {
		return descriptor.Descriptor{}, false
	}
	return t.byKey[t.order[0]], true
}

// Platforms returns the stored platforms, first stored first.
func (t *Table) Platforms() []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return slices.Clone(t.order)
}

// Len returns the number of descriptors held.
func (t *Table) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.byKey)
}

// Undecodable returns how many bucket entries could not be decoded so far.
func (t *Table) Undecodable() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.bad
}
