package devconnector

import "sort"

// bufEntry is one buffered frame.
type bufEntry struct {
	pos   uint64 // insertion order; the writers' cursors count in it
	id    string
	frame []byte // the whole frame, trailing newline included; never mutated
	done  bool   // acked or dropped
	sends int    // how many times a writer took it
}

// replayBuffer keeps un-acked frames in insertion order. entries[head:] is
// ordered by pos and may hold done entries (tombstones), which are compacted
// away once they outnumber the live ones. It is not safe for concurrent use;
// Server.mu guards it.
type replayBuffer struct {
	limit   int
	entries []*bufEntry
	head    int
	byID    map[string]*bufEntry
	nextPos uint64

	acked, dropped, unknownAcks, replayed uint64
}

func newReplayBuffer(limit int) replayBuffer {
	return replayBuffer{limit: limit, byID: make(map[string]*bufEntry), nextPos: 1}
}

// live is the number of un-acked frames.
func (b *replayBuffer) live() int { return len(b.byID) }

// add appends a frame under id, dropping the oldest un-acked frame first
// when the buffer is full. It reports whether a frame was dropped.
func (b *replayBuffer) add(id string, frame []byte) (dropped bool) {
	if len(b.byID) >= b.limit {
		for i := b.head; i < len(b.entries); i++ {
			if e := b.entries[i]; !e.done {
				b.remove(e)
				b.dropped++
				dropped = true
				break
			}
		}
	}
	e := &bufEntry{pos: b.nextPos, id: id, frame: frame}
	b.nextPos++
	b.entries = append(b.entries, e)
	b.byID[id] = e
	return dropped
}

// ack removes the frame with id; unknown ids (never buffered, already acked
// or dropped) are counted and reported false.
func (b *replayBuffer) ack(id string) bool {
	e, ok := b.byID[id]
	if !ok {
		b.unknownAcks++
		return false
	}
	b.remove(e)
	b.acked++
	return true
}

func (b *replayBuffer) remove(e *bufEntry) {
	e.done = true
	delete(b.byID, e.id)
	for b.head < len(b.entries) && b.entries[b.head].done {
		b.entries[b.head] = nil
		b.head++
	}
	n := len(b.entries) - b.head
	switch {
	case n == 0:
		b.entries = b.entries[:0]
		b.head = 0
	case n-len(b.byID) > len(b.byID)+1024 || b.head > 1024 && b.head > n:
		live := make([]*bufEntry, 0, len(b.byID)+len(b.byID)/4+16)
		for _, x := range b.entries[b.head:] {
			if !x.done {
				live = append(live, x)
			}
		}
		b.entries = live
		b.head = 0
	}
}

// pull appends to dst the un-acked frames at or after cursor, in order,
// stopping before dst would exceed maxBytes (one frame is always taken when
// dst is empty). It returns dst, the cursor after the last frame taken and
// whether frames remain after it.
func (b *replayBuffer) pull(dst []byte, cursor uint64, maxBytes int) ([]byte, uint64, bool) {
	live := b.entries[b.head:]
	i := sort.Search(len(live), func(i int) bool { return live[i].pos >= cursor })
	for ; i < len(live); i++ {
		e := live[i]
		if e.done {
			continue
		}
		if len(dst) > 0 && len(dst)+len(e.frame) > maxBytes {
			return dst, e.pos, true
		}
		dst = append(dst, e.frame...)
		if e.sends > 0 {
			b.replayed++
		}
		e.sends++
		cursor = e.pos + 1
	}
	return dst, cursor, false
}

// snapshotIDs returns the un-acked buffer ids in order.
func (b *replayBuffer) snapshotIDs() []string {
	ids := make([]string, 0, len(b.byID))
	for _, e := range b.entries[b.head:] {
		if !e.done {
			ids = append(ids, e.id)
		}
	}
	return ids
}
