package consume

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/pkg/backoff"
)

// PriorityGroup is the priority group of every partition's consumer: the
// server pins each partition to one pulling replica at a time (pinned
// client priority policy, nats-server ≥ 2.11).
const PriorityGroup = "relay"

// PinHeader is the header the server stamps with the pin id on every
// message of a pinned consumer.
const PinHeader = "Nats-Pin-Id"

// MembersSubjectPrefix prefixes the subject on which the replicas of one
// partitioned loop answer a roll call (relay.members.<stream>.<durable>):
// each answers with its member id, so a replica counts the live ones.
const MembersSubjectPrefix = "relay.members."

// source is one consumer the loop pulls from: the durable of an
// unpartitioned loop (or of a partitioned loop's unkeyed subjects), or one
// partition's pinned durable.
type source struct {
	name    string
	filters []string
	part    int // partition index; -1 for the unpartitioned durable
	pinned  bool
	batch   int

	mu      sync.Mutex
	pin     string // the pin id seen on this partition's messages
	release func() // gives the partition up (set while pulling)
	// takeover wakes the gate watcher when a new pin was seen.
	takeover chan struct{}
}

// sawPin records the pin id m was delivered under; it reports whether it
// is a new one (the partition was just taken over).
func (s *source) sawPin(m jetstream.Msg) bool {
	if !s.pinned {
		return false
	}
	id := m.Headers().Get(PinHeader)
	if id == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pin == id {
		return false
	}
	s.pin = id
	return true
}

// watchTakeovers opens the gate of src's partition once a takeover's
// redeliveries are all in hand: when this replica holds as many of the
// partition's messages as the server counts pending (delivered, not
// acked), every message the previous holder left is here, sorted into its
// chat's queue. The same holds after a pull that ended abnormally (what
// the client dropped comes back). Only the messages the server counted are
// compared with its count: those delivered up to its answer's last
// delivered sequence, and not being acked (sched.heldUpTo); counting later
// deliveries too opened the gate with a message still missing whenever one
// arrived between the server's count and the reading of ours (the compose
// suite's NATS restart: a few events out of chat order per run). A
// previous holder that is alive hands its messages back as soon as its
// next pull learns of the new pin; one that died lets them expire within
// an ack wait. The gate gives up after PinnedTTL plus twice the ack wait,
// logging it: order may break there.
func (l *Loop) watchTakeovers(ctx context.Context, src *source, sc *sched) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-src.takeover:
		}
		// The wait is bounded from the first answer of the server: while
		// it cannot be asked (a restart, an outage) the lost messages
		// cannot come back either.
		var deadline time.Time
		for {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			cons, err := l.js.Consumer(cctx, l.cfg.Stream, src.name)
			cancel()
			if err == nil {
				info := cons.CachedInfo()
				if held := sc.heldUpTo(src.part, info.Delivered.Stream); held >= info.NumAckPending {
					if l.debug {
						l.cfg.Log.Debug("partition ungated", "consumer", src.name, "held", held, "server_pending", info.NumAckPending,
							"delivered_stream_seq", info.Delivered.Stream, "in_hand", sc.count(src.part))
					}
					break
				}
			}
			if err == nil && deadline.IsZero() {
				deadline = time.Now().Add(l.cfg.PinnedTTL + 2*l.cfg.AckWait)
			}
			if !deadline.IsZero() && time.Now().After(deadline) {
				l.cfg.Log.Warn("partition taken over without all of its previous holder's messages; going on", "consumer", src.name)
				break
			}
			if !backoff.Sleep(ctx, 20*time.Millisecond) {
				sc.ungate(src.part)
				return
			}
		}
		sc.ungate(src.part)
	}
}

func (s *source) currentPin() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pin
}

func (s *source) held() bool { return s.currentPin() != "" }

func (s *source) clearPin() {
	s.mu.Lock()
	s.pin = ""
	s.mu.Unlock()
}

// onRelease makes release call cancel until the returned stop is called.
func (s *source) onRelease(cancel func()) (stop func()) {
	s.mu.Lock()
	s.release = cancel
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		s.release = nil
		s.mu.Unlock()
	}
}

// giveUp asks the source to give its partition up; false when it is not
// pulling.
func (s *source) giveUp() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.release == nil {
		return false
	}
	s.release()
	return true
}

// PartitionConsumer returns the durable name of partition p's consumer.
func PartitionConsumer(durable string, p int) string { return fmt.Sprintf("%s-p%d", durable, p) }

func (l *Loop) newSources() []*source {
	c := &l.cfg
	if c.Partitions == 0 {
		return []*source{{name: c.Durable, filters: c.FilterSubjects, part: -1, batch: c.Batch}}
	}
	var srcs []*source
	if len(c.FilterSubjects) > 0 {
		srcs = append(srcs, &source{name: c.Durable, filters: c.FilterSubjects, part: -1, batch: c.Batch})
	}
	// A partition's pull asks for more than the consumer lets it hold: the
	// request stays open while acks free room (MaxAckPending bounds what is
	// in hand), so a busy partition is not paced by one round trip per
	// batch. Requests are not overlapped: two open requests of one
	// consumer could interleave a chat's messages.
	batch := 8 * c.PartitionMaxAckPending
	for p := range c.Partitions {
		srcs = append(srcs, &source{name: PartitionConsumer(c.Durable, p), filters: c.PartitionFilter(p), part: p, pinned: true, batch: batch,
			takeover: make(chan struct{}, 1)})
	}
	return srcs
}

// Held returns the partitions this replica holds (pinned to it), as last
// checked by the balancer; nil without partitions.
func (l *Loop) Held() []int {
	var held []int
	for _, src := range l.sources {
		if src.pinned && src.held() {
			held = append(held, src.part)
		}
	}
	return held
}

// presence answers the roll call of this loop's replicas and takes it.
type presence struct {
	nc      *nats.Conn
	subject string
	sub     *nats.Subscription
}

func (l *Loop) startPresence() (*presence, error) {
	nc := l.js.Conn()
	if nc == nil {
		return nil, fmt.Errorf("no connection")
	}
	p := &presence{nc: nc, subject: MembersSubjectPrefix + l.cfg.Stream + "." + l.cfg.Durable}
	// The answer is "<id> <partitions held>".
	sub, err := nc.Subscribe(p.subject, func(m *nats.Msg) {
		_ = m.Respond([]byte(l.id + " " + strconv.Itoa(len(l.Held()))))
	})
	if err != nil {
		return nil, err
	}
	p.sub = sub
	return p, nil
}

func (p *presence) stop() { _ = p.sub.Unsubscribe() }

// count takes the roll call: the distinct replicas that answer within
// quiet of the last answer (at most wait in all), with how many partitions
// each holds.
func (p *presence) count(ctx context.Context, quiet, wait time.Duration) (map[string]int, error) {
	inbox := p.nc.NewRespInbox()
	sub, err := p.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := p.nc.PublishRequest(p.subject, inbox, nil); err != nil {
		return nil, err
	}
	seen := map[string]int{}
	deadline := time.Now().Add(wait)
	for {
		left := min(quiet, time.Until(deadline))
		if left <= 0 || ctx.Err() != nil {
			break
		}
		m, err := sub.NextMsg(left)
		if err != nil {
			break
		}
		id, held, _ := strings.Cut(string(m.Data), " ")
		n, _ := strconv.Atoi(held)
		seen[id] = n
	}
	if len(seen) == 0 {
		return nil, fmt.Errorf("no replica answered the roll call (not even this one)")
	}
	return seen, nil
}

// balance keeps this replica's share of the partitions fair: every
// BalanceEvery it counts the live replicas R and checks which partitions
// the server has pinned to it. Holding more than ceil(N/R), it gives the
// extra ones up (those with the least in hand): it stops pulling them,
// hands back what it has not started, waits for what runs, and unpins
// them. Holding its share, it stops pulling the partitions it does not
// hold; below it, it pulls them all, so the server pins a partition that
// was given up (or whose holder died) to a replica below its share.
// Taking is the server's pinning of a waiting pull; failover needs no
// balancing: the pin of a replica that died expires (PinnedTTL) and the
// server pins another.
func (l *Loop) balance(ctx context.Context, pres *presence) {
	for {
		// Jittered, so that replicas started together do not act together.
		every := l.cfg.BalanceEvery
		d := every/2 + time.Duration(rand.Int64N(int64(every)))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		roll, err := pres.count(ctx, 150*time.Millisecond, time.Second)
		if err != nil {
			l.cfg.Log.Debug("roll call failed", "err", err)
			continue
		}
		members := len(roll)
		held := l.checkHeld(ctx)
		parts := make([]int, len(held))
		for i, src := range held {
			parts[i] = src.part
		}
		l.cfg.Hooks.Held(parts)
		fair := (l.cfg.Partitions + members - 1) / members
		// At its share, a replica stops waiting on the partitions it does
		// not hold, so that the ones given up go to replicas below theirs.
		l.saturated.Store(len(held) >= fair)
		keep := fair
		if len(held) <= fair {
			// Within the share, but a replica may still hold fewer than
			// the floor (N=4 over 3: 2, 2, 0): then the replica holding
			// the most (the first id among equals) gives one up.
			floor := l.cfg.Partitions / members
			if len(held) <= floor || !starved(roll, l.id, floor) || !mostLoaded(roll, l.id, len(held)) {
				continue
			}
			keep = len(held) - 1
		}
		l.mu.Lock()
		sc := l.sched
		l.mu.Unlock()
		slices.SortStableFunc(held, func(a, b *source) int { return sc.count(a.part) - sc.count(b.part) })
		for _, src := range held[:len(held)-keep] {
			if src.giveUp() {
				l.cfg.Log.Info("giving a partition up to balance", "consumer", src.name, "replicas", members, "held", len(held), "fair_share", fair)
			}
		}
	}
}

// starved reports whether a replica other than self holds fewer than floor
// partitions.
func starved(roll map[string]int, self string, floor int) bool {
	for id, n := range roll {
		if id != self && n < floor {
			return true
		}
	}
	return false
}

// mostLoaded reports whether self, holding held, is the replica that gives
// a partition up to a starved one: the most loaded, the smallest id among
// equals (so that one gives up per round, not all).
func mostLoaded(roll map[string]int, self string, held int) bool {
	for id, n := range roll {
		if id != self && (n > held || n == held && id < self) {
			return false
		}
	}
	return true
}

// checkHeld asks the server which of the partitions this replica saw a pin
// for are still pinned to it, forgets the others, and returns the held ones.
func (l *Loop) checkHeld(ctx context.Context) []*source {
	var held []*source
	for _, src := range l.sources {
		pin := src.currentPin()
		if !src.pinned || pin == "" {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		cons, err := l.js.Consumer(cctx, l.cfg.Stream, src.name)
		cancel()
		if err != nil {
			continue // unknown: keep what we believe
		}
		still := false
		for _, g := range cons.CachedInfo().PriorityGroups {
			if g.Group == PriorityGroup && g.PinnedClientID == pin {
				still = true
			}
		}
		if !still {
			src.mu.Lock()
			if src.pin == pin {
				src.pin = ""
			}
			src.mu.Unlock()
			continue
		}
		held = append(held, src)
	}
	return held
}
