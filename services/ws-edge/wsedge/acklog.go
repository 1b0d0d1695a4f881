package wsedge

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/pkg/backoff"
	"github.com/relaybus/relaybus/pkg/events"
)

// The ack log (docs/adr/0001-bus-contract.md §7.1) keeps replay
// de-duplication for the whole replay protection horizon
// (RELAY_DUPLICATE_WINDOW) without the server holding an id per frame in
// memory for that long:
//
//   - acked ⇒ logged: an inbound_ack is written only once the frame is
//     stored and its bufferId's hash is stored in RELAY_ACKLOG, in a batch
//     of many (relay.acklog.<instance>, one subject per ws-edge process);
//   - only frames acked shortly before a disconnect can be replayed (their
//     ack may not have reached the connector): at every connect ws-edge
//     loads, for each writer, the hashes logged in the last
//     WSEDGE_ACK_HORIZON before that writer's latest batch, into a sorted
//     slice, and a replayed frame whose id is in it is acked (and logged
//     again), not stored again;
//   - the set is dropped twice the horizon after the connect (the replays
//     come first on a connection), so memory follows the horizon, not
//     rate × RELAY_DUPLICATE_WINDOW. RELAY_RAW's short server window still
//     catches what the log does not hold yet (a publish retried at once, a
//     replay racing another replica's last acks).
//
// A crash between storing a frame and logging its id leaves the frame
// stored and un-acked: its replay is stored again if it comes after the
// server window (at least once, never a loss).

// Batching of the ack log writer.
const (
	ackLogLinger   = 5 * time.Millisecond // a batch waits this long for more ids
	ackLogMaxBatch = 4096                 // ids per batch (32 KiB of hashes)
	ackLogInflight = 4                    // batches awaiting their PubAck
	ackLogQueue    = 4096                 // ids waiting for the writer
	// ackLogReadSlack is how much earlier, in server time, than the
	// horizon the load starts reading: the horizon is measured in the
	// writer's clock, the read position in the server's.
	ackLogReadSlack = 30 * time.Second
	ackLogSweep     = 10 * time.Second // how often an expired replay set is dropped when no frame asks
)

// hashID is the 64-bit FNV-1a hash of a bufferId: stable across processes
// and versions (the log outlives them), unlike hash/maphash. Written out
// because hash/fnv's Hash64 would allocate per id on the hot path; a test
// checks it against hash/fnv.
func hashID(id string) uint64 {
	const (
		offset64 = 14695981039346656037
		prime64  = 1099511628211
	)
	h := uint64(offset64)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= prime64
	}
	return h
}

// appendBatch encodes an ack batch: the writer's clock (Unix nanoseconds)
// then each id's hash, all big-endian uint64s.
func appendBatch(dst []byte, at time.Time, ids []ackReq) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(at.UnixNano()))
	for _, r := range ids {
		dst = binary.BigEndian.AppendUint64(dst, hashID(r.id))
	}
	return dst
}

// errBadBatch marks an ack batch that does not decode.
var errBadBatch = errors.New("wsedge: malformed ack log batch")

// batchTime returns a batch's time and its hashes' bytes.
func batchTime(b []byte) (time.Time, []byte, error) {
	if len(b) < 8 || len(b)%8 != 0 {
		return time.Time{}, nil, errBadBatch
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(b))), b[8:], nil
}

// ackReq is one inbound_ack waiting for its id to be logged.
type ackReq struct {
	c  *conn
	id string
}

// replaySet is the loaded set: sorted hashes, dropped at until (clock).
type replaySet struct {
	ids   []uint64
	until time.Time
}

// ackLog is the writer of this process's ack batches and the holder of
// the replay set loaded at the last connect.
type ackLog struct {
	s        *Service
	subject  string
	horizon  time.Duration
	in       chan ackReq
	slots    chan struct{}
	pending  atomic.Int64 // ids taken and not yet acked or given up
	idle     chan struct{}
	quit     chan struct{}
	wg       sync.WaitGroup
	stopOnce sync.Once
	set      atomic.Pointer[replaySet]
}

func newAckLog(s *Service) *ackLog {
	return &ackLog{
		s:       s,
		subject: bus.AckLogSubject(s.cfg.InstanceID),
		horizon: s.cfg.AckHorizon,
		in:      make(chan ackReq, ackLogQueue),
		slots:   make(chan struct{}, ackLogInflight),
		idle:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
	}
}

func (l *ackLog) start() {
	l.wg.Add(1)
	go l.run()
}

// log acks bufferID on c (or the current socket) once it is logged.
func (l *ackLog) log(c *conn, bufferID string) {
	l.pending.Add(1)
	select {
	case l.in <- ackReq{c: c, id: bufferID}:
	case <-l.quit:
		l.done(1) // stopping: not acked, the connector replays it
	}
}

func (l *ackLog) done(n int) {
	if l.pending.Add(-int64(n)) == 0 {
		select {
		case l.idle <- struct{}{}:
		default:
		}
	}
}

// run batches the ids: a batch goes out ackLogLinger after its first id,
// or when full, while at most ackLogInflight batches await their PubAck.
func (l *ackLog) run() {
	defer l.wg.Done()
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	sweep := time.NewTicker(ackLogSweep)
	defer sweep.Stop()
	for {
		var first ackReq
		select {
		case first = <-l.in:
		case <-sweep.C:
			l.expire()
			continue
		case <-l.quit:
			return
		}
		batch := append(make([]ackReq, 0, 64), first)
		linger.Reset(ackLogLinger)
	collect:
		for len(batch) < ackLogMaxBatch {
			select {
			case r := <-l.in:
				batch = append(batch, r)
			case <-linger.C:
				break collect
			case <-l.quit:
				break collect
			}
		}
		linger.Stop()
		select {
		case l.slots <- struct{}{}:
		case <-l.quit:
			l.done(len(batch))
			return
		}
		l.write(batch)
	}
}

// write publishes one batch; a goroutine of its own waits for the PubAck
// (retrying until stored or stop) and then writes the acks.
func (l *ackLog) write(batch []ackReq) {
	msg := &nats.Msg{
		Subject: l.subject,
		Header:  nats.Header{events.TypeHeader: []string{bus.AckLogType}},
		Data:    appendBatch(make([]byte, 0, 8+8*len(batch)), l.s.Now(), batch),
	}
	paf, err := l.s.JS.PublishMsgAsync(msg)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer func() { <-l.slots }()
		l.complete(batch, msg, paf, err)
	}()
}

func (l *ackLog) complete(batch []ackReq, msg *nats.Msg, paf jetstream.PubAckFuture, err error) {
	s := l.s
	if err == nil {
		select {
		case <-paf.Ok():
		case err = <-paf.Err():
		}
	}
	pause := backoff.New(50*time.Millisecond, 2*time.Second, nil)
	for err != nil {
		s.m.ackLogFailed.Inc()
		if ok, suppressed := s.badLog.allow("acklog"); ok {
			s.Log.Warn("storing an ack batch failed; retrying (its frames are stored, their acks wait)",
				"ids", len(batch), "err", err, "suppressed_since_last", suppressed)
		}
		select {
		case <-time.After(pause.Next()):
		case <-l.quit:
			s.Log.Warn("shutting down with an ack batch unstored; the connector will replay its frames", "ids", len(batch))
			l.done(len(batch))
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.PublishTimeout)
		_, err = s.JS.PublishMsg(ctx, msg)
		cancel()
	}
	s.m.ackLogBatches.Inc()
	s.m.ackLogIDs.Add(float64(len(batch)))
	for _, r := range batch {
		s.writeAck(r.c, r.id)
	}
	l.done(len(batch))
}

// waitIdle waits until every id taken is acked or given up, or timeout;
// it reports whether the log is idle.
func (l *ackLog) waitIdle(timeout time.Duration) bool {
	return waitZero(&l.pending, l.idle, timeout)
}

// stop waits for the ids taken (bounded), then ends the goroutines. No
// log may start after stop.
func (l *ackLog) stop(timeout time.Duration) {
	l.stopOnce.Do(func() {
		if !l.waitIdle(timeout) {
			l.s.Log.Error("acks still waiting for the ack log at shutdown; the connector will replay their frames",
				"pending", l.pending.Load())
		}
		close(l.quit)
		l.wg.Wait()
	})
}

// absorbs reports whether bufferID is in the replay set: acked before the
// last connect, within the horizon of its writer's latest batch.
func (l *ackLog) absorbs(bufferID string) bool {
	rs := l.set.Load()
	if rs == nil {
		return false
	}
	if !l.s.Now().Before(rs.until) {
		l.expire()
		return false
	}
	_, found := slices.BinarySearch(rs.ids, hashID(bufferID))
	return found
}

// expire drops the replay set once its time is up.
func (l *ackLog) expire() {
	rs := l.set.Load()
	if rs == nil || l.s.Now().Before(rs.until) {
		return
	}
	if l.set.CompareAndSwap(rs, nil) {
		l.s.m.replaySetIDs.Set(0)
		l.s.Log.Info("replay set dropped", "ids", len(rs.ids))
	}
}

// setSize returns the size of the replay set (0 when there is none).
func (l *ackLog) setSize() int {
	if rs := l.set.Load(); rs != nil {
		return len(rs.ids)
	}
	return 0
}

// load replaces the replay set with the ids logged, by every writer, in
// the horizon before that writer's latest batch. It returns the number of
// writers and of distinct ids.
func (l *ackLog) load(ctx context.Context) (writers, ids int, err error) {
	js := l.s.JS
	st, err := js.Stream(ctx, bus.AckLogStream)
	if err != nil {
		return 0, 0, fmt.Errorf("opening %s: %w", bus.AckLogStream, err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(bus.AckLogSubjects))
	if err != nil {
		return 0, 0, fmt.Errorf("reading %s's writers: %w", bus.AckLogStream, err)
	}
	var hashes []uint64
	for subject := range info.State.Subjects {
		last, err := st.GetLastMsgForSubject(ctx, subject)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // aged out meanwhile
		}
		if err != nil {
			return 0, 0, fmt.Errorf("reading a writer's latest batch: %w", err)
		}
		lastAt, _, err := batchTime(last.Data)
		if err != nil {
			l.s.m.ackLogBad.Inc()
			continue
		}
		writers++
		hashes, err = l.read(ctx, subject, last.Time.Add(-l.horizon-ackLogReadSlack), last.Sequence, lastAt.Add(-l.horizon), hashes)
		if err != nil {
			return 0, 0, err
		}
	}
	slices.Sort(hashes)
	hashes = slices.Compact(hashes)
	hashes = slices.Clip(hashes)
	l.s.m.ackLogLoaded.Add(float64(len(hashes)))
	l.s.m.replaySetIDs.Set(float64(len(hashes)))
	if len(hashes) == 0 {
		l.set.Store(nil)
	} else {
		l.set.Store(&replaySet{ids: hashes, until: l.s.Now().Add(2 * l.horizon)})
	}
	return writers, len(hashes), nil
}

// read appends the hashes of subject's batches from server time start up
// to sequence last whose writer's time is at or after from.
func (l *ackLog) read(ctx context.Context, subject string, start time.Time, last uint64, from time.Time, dst []uint64) ([]uint64, error) {
	cons, err := l.s.JS.OrderedConsumer(ctx, bus.AckLogStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &start,
		// Read once and abandoned: the server removes it soon after.
		InactiveThreshold: 10 * time.Second,
	})
	if err != nil {
		return dst, fmt.Errorf("reading the ack log: %w", err)
	}
	for {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return dst, fmt.Errorf("reading the ack log: %w", err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			md, err := m.Metadata()
			if err != nil {
				continue
			}
			at, hs, err := batchTime(m.Data())
			if err != nil {
				l.s.m.ackLogBad.Inc()
			} else if !at.Before(from) {
				for i := 0; i < len(hs); i += 8 {
					dst = append(dst, binary.BigEndian.Uint64(hs[i:]))
				}
			}
			if md.Sequence.Stream >= last {
				return dst, nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return dst, fmt.Errorf("reading the ack log: %w", err)
		}
		if n == 0 {
			return dst, nil // the rest aged out meanwhile
		}
		if ctx.Err() != nil {
			return dst, ctx.Err()
		}
	}
}
