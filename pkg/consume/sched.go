package consume

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"
)

// item is one message in hand: dispatched, not yet settled.
type item struct {
	m         jetstream.Msg
	seq       uint64                 // stream sequence (0 when unknown)
	hasSeq    bool                   // the metadata could be read
	delivered uint64                 // the server's delivery count (1 when unknown)
	part      int                    // the partition it came from (0 without partitions)
	md        *jetstream.MsgMetadata // as read on delivery (nil when it could not be)
	// settling: its ack, nak or term is being sent; it no longer counts
	// as in hand for a gate (the server may have counted it out already).
	settling atomic.Bool
}

// chat is the queue of one key's messages in hand, in stream order. At
// most one worker owns it at a time (running), so its messages are handled
// one after the other; different chats run in parallel.
type chat struct {
	key     string
	items   []*item
	running bool // a worker is handling items[0]
	ready   bool // on the ready list
}

// sched hands messages to workers: per key (chat) in stream order, one at
// a time, and round-robin across keys, so a chat stalled behind a slow
// handler or a retry holds back only its own later messages, never another
// chat's (there is no fixed shard two chats could share). Messages without
// a key (Config.Key nil or "") are each a chat of their own.
//
// It is unbounded by itself: what is in hand is bounded by the server,
// through each consumer's MaxAckPending.
type sched struct {
	mu   sync.Mutex
	cond *sync.Cond // the workers': a chat ready, closed
	// emptied is waitEmpty's: a partition emptied, or its stop. Apart
	// from cond, so that a partition emptying (at low load, after nearly
	// every message) does not wake every idle worker only for it to find
	// nothing ready: with 64 workers that herd was most of the scheduling
	// delay of an interaction at 2,000/s.
	emptied *sync.Cond
	chats   map[string]*chat
	ready   []*chat
	head    int // ready[head:] is the ready list
	shut    bool
	inHand  map[int]int                // per partition: messages dispatched and not settled
	held    map[int]map[*item]struct{} // the same messages of partitions, for heldUpTo
	closing map[int]bool               // partitions being handed back
	signal  map[int]chan struct{}
	gated   map[int]bool    // partitions whose chats may not start yet
	parked  map[int][]*chat // ready chats of gated partitions
}

func newSched() *sched {
	s := &sched{chats: map[string]*chat{}, inHand: map[int]int{}, held: map[int]map[*item]struct{}{}, closing: map[int]bool{}, signal: map[int]chan struct{}{},
		gated: map[int]bool{}, parked: map[int][]*chat{}}
	s.cond = sync.NewCond(&s.mu)
	s.emptied = sync.NewCond(&s.mu)
	return s
}

// add queues it under key.
func (s *sched) add(key string, it *item) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inHand[it.part]++
	if it.part >= 0 { // a partition: gated at times (heldUpTo)
		h := s.held[it.part]
		if h == nil {
			h = map[*item]struct{}{}
			s.held[it.part] = h
		}
		h[it] = struct{}{}
	}
	var c *chat
	if key != "" {
		c = s.chats[key]
	}
	if c == nil {
		c = &chat{key: key}
		if key != "" {
			s.chats[key] = c
		}
	}
	// In stream order: a redelivery (an earlier message handed back by a
	// replica that gave its partition up) goes before later ones.
	i := len(c.items)
	for i > 0 && c.items[i-1].seq > it.seq && (!c.running || i > 1) {
		i--
	}
	c.items = slices.Insert(c.items, i, it)
	if !c.running && !c.ready {
		s.push(c)
	}
}

func (s *sched) push(c *chat) {
	c.ready = true
	if p := c.items[0].part; s.gated[p] {
		s.parked[p] = append(s.parked[p], c)
		return
	}
	switch {
	case s.head > 0 && s.head == len(s.ready):
		s.ready, s.head = s.ready[:0], 0
	case s.head >= 1024 && s.head >= len(s.ready)/2:
		// Never idle long enough to empty: drop the consumed front, so
		// a busy loop's list stays as long as what is ready.
		n := copy(s.ready, s.ready[s.head:])
		clear(s.ready[n:])
		s.ready, s.head = s.ready[:n], 0
	}
	s.ready = append(s.ready, c)
	s.cond.Signal()
}

// next blocks for the next chat to run and returns its head message; ok is
// false once the scheduler is closed and nothing is ready.
func (s *sched) next() (c *chat, it *item, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		for s.head < len(s.ready) {
			c = s.ready[s.head]
			s.ready[s.head] = nil
			s.head++
			c.ready = false
			if len(c.items) == 0 {
				continue // emptied by a hand-back while waiting
			}
			c.running = true
			return c, c.items[0], true
		}
		if s.shut {
			return nil, nil, false
		}
		s.cond.Wait()
	}
}

// done settles c's head (handled, or handed back by the worker) and
// returns the messages to hand back: c's rest when its partition is being
// given up (handed back in stream order, after the head settled, so that
// the server redelivers them in order). They stay counted in hand until
// the caller settles them (after their naks).
func (s *sched) done(c *chat) (handBack []*item) {
	s.mu.Lock()
	defer s.mu.Unlock()
	head := c.items[0]
	c.items[0] = nil
	c.items = c.items[1:]
	c.running = false
	s.settled(head)
	if len(c.items) > 0 && s.closing[head.part] {
		handBack = c.items
		c.items = nil
	}
	if len(c.items) > 0 {
		s.push(c)
	} else if c.key != "" {
		delete(s.chats, c.key)
	}
	return handBack
}

// settle counts handed-back items out of hand (once their naks are sent:
// the partition is empty only then).
func (s *sched) settle(items []*item) {
	if len(items) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, it := range items {
		s.settled(it)
	}
}

// settled counts it out of hand.
func (s *sched) settled(it *item) {
	p := it.part
	if p >= 0 {
		delete(s.held[p], it)
	}
	s.inHand[p]--
	if s.inHand[p] <= 0 {
		delete(s.inHand, p)
		s.emptied.Broadcast()
	}
}

// closePartition starts handing partition p back: chats of p that are not
// running are returned (to be handed back in order now, then settled); a
// running one hands its rest back when its head settles (done).
func (s *sched) closePartition(p int) (handBack []*item) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing[p] = true
	if ch := s.signal[p]; ch != nil {
		close(ch)
		delete(s.signal, p)
	}
	for key, c := range s.chats {
		if c.running || len(c.items) == 0 || c.items[0].part != p {
			continue
		}
		handBack = append(handBack, c.items...)
		c.items = nil
		delete(s.chats, key)
	}
	// Keyless chats are not in the map: they are on the ready list (or
	// parked).
	for _, c := range append(s.ready[s.head:], s.parked[p]...) {
		if c != nil && c.key == "" && !c.running && len(c.items) > 0 && c.items[0].part == p {
			handBack = append(handBack, c.items...)
			c.items = nil
		}
	}
	slices.SortFunc(handBack, func(a, b *item) int { return int64Cmp(a.seq, b.seq) })
	return handBack
}

func int64Cmp(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// isClosing reports whether partition p is being handed back.
func (s *sched) isClosing(p int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing[p]
}

// closed returns a channel closed when partition p starts being handed
// back.
func (s *sched) closed(p int) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing[p] {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	ch := s.signal[p]
	if ch == nil {
		ch = make(chan struct{})
		s.signal[p] = ch
	}
	return ch
}

// gate holds partition p's chats back (those running go on) until ungate:
// a replica that just took the partition over waits until the messages
// the previous holder had in hand are redelivered to it, so that each
// chat starts from its oldest (the server redelivers them in the order
// their ack waits ran out, not in stream order).
func (s *sched) gate(p int) {
	s.mu.Lock()
	s.gated[p] = true
	s.mu.Unlock()
}

// ungate lets partition p's chats run again.
func (s *sched) ungate(p int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.gated, p)
	parked := s.parked[p]
	delete(s.parked, p)
	for _, c := range parked {
		c.ready = false
		if len(c.items) > 0 && !c.running {
			s.push(c)
		}
	}
}

// reopen ends p's hand-back (it may be taken again).
func (s *sched) reopen(p int) {
	s.mu.Lock()
	delete(s.closing, p)
	s.mu.Unlock()
}

// waitEmpty blocks until partition p has nothing in hand, or stop is
// closed; it reports whether p is empty.
func (s *sched) waitEmpty(p int, stop <-chan struct{}) bool {
	wake := make(chan struct{})
	defer close(wake)
	go func() {
		select {
		case <-stop:
			s.mu.Lock()
			s.emptied.Broadcast()
			s.mu.Unlock()
		case <-wake:
		}
	}()
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.inHand[p] > 0 {
		select {
		case <-stop:
			return false
		default:
		}
		s.emptied.Wait()
	}
	return true
}

// count returns the messages of partition p in hand.
func (s *sched) count(p int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inHand[p]
}

// heldUpTo returns how many messages of partition p are in hand here and
// count as pending for the server as of a consumer info whose last
// delivered stream sequence was upTo: not being settled (their ack may
// have reached the server already), and delivered by then (a message
// delivered after the server counted its pending ones is not among them).
// When it is at least the server's count of pending messages, every
// message the server had out for p is here: a gate may open. Counting all
// of them (count) could open it while one is still missing.
func (s *sched) heldUpTo(p int, upTo uint64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for it := range s.held[p] {
		if !it.settling.Load() && (!it.hasSeq || it.seq <= upTo) {
			n++
		}
	}
	return n
}

// close wakes the workers: they return once nothing is ready.
func (s *sched) close() {
	s.mu.Lock()
	s.shut = true
	s.cond.Broadcast()
	s.emptied.Broadcast()
	s.mu.Unlock()
}
