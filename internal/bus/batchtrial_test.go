package bus_test

// Issue #15 item 5: JetStream's fast-ingest batch publishing (nats-server
// 2.14+, stream option allow_batched) tried for ws-edge's pattern — every
// connector frame stored with its own Nats-Msg-Id in a file-backed
// work-queue stream, and acked to the connector once it is stored — against
// what ws-edge does today (PublishMsgAsync in a window) and bus.Publisher.
// The result is in docs/performance.md ("Fast-ingest batch publishing").
//
// The fast-batch client here speaks the server's wire protocol directly
// (nats-server v2.15.3 server/stream.go getFastBatch and
// processJetStreamFastBatchMsg, server/jetstream_batching.go): a message's
// reply subject <inbox>.<batch id>.<flow>.<gap mode>.<batch seq>.<op>.$FI
// makes it part of a batch. orbit.go's jetstreamext v0.4.0 FastPublisher
// speaks the same protocol, but needs nats.go v1.56.0 (every module that
// requires internal would have to move with it), and it tells a caller the
// acked batch sequence only as the return value of the next Add, where
// ws-edge needs a callback per stored frame. This client is test-only.

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/fixtures"
	"github.com/relaybus/relaybus/pkg/natstest"
)

// Fast-batch operations, the <op> token of the reply subject (2, not used
// here, commits with the message it is on).
const (
	fbStart     = 0
	fbAppend    = 1
	fbCommitEOB = 3 // no message: end the batch at what was sent
	fbPing      = 4 // resend the last flow ack
)

// batchReply is one message the server sends on a batch's reply subjects.
type batchReply struct {
	Type    string              `json:"type"` // "ack", "err", "gap"; "" for a PubAck
	Seq     uint64              `json:"seq"`  // ack: batch sequence persisted; err, gap: the message's; PubAck: stream sequence
	Msgs    uint16              `json:"msgs"` // ack: the server acks every Msgs messages from now on
	LastSeq uint64              `json:"last_seq"`
	Stream  string              `json:"stream"`
	Batch   string              `json:"batch"`
	Count   uint64              `json:"count"` // PubAck: the batch messages committed
	Error   *jetstream.APIError `json:"error"`
	Subject string              `json:"-"` // the reply subject it came on
	Status  string              `json:"-"` // a status reply (503: nothing took the subject)
	Dup     bool                `json:"duplicate"`
}

// fastBatch is one fast-ingest batch on nc, in "gap: fail" mode: a message
// that cannot be stored ends the batch, so a flow ack for batch sequence N
// means every message up to N is stored. onReply sees every reply, in
// order, on the subscription's goroutine. Not safe for concurrent Add.
type fastBatch struct {
	nc      *nats.Conn
	inbox   string // <inbox>.<id>.<flow>.fail.
	sub     *nats.Subscription
	seq     uint64
	subject string
}

func newFastBatch(nc *nats.Conn, flow uint16, onReply func(batchReply)) (*fastBatch, error) {
	base := nc.NewInbox() // _INBOX.<nuid>: the nuid is the batch id (at most 64 bytes)
	b := &fastBatch{nc: nc, inbox: base + "." + strconv.Itoa(int(flow)) + ".fail."}
	sub, err := nc.Subscribe(base+".>", func(m *nats.Msg) {
		r := batchReply{Subject: m.Subject}
		if len(m.Data) == 0 {
			r.Status = m.Header.Get("Status")
		} else if err := json.Unmarshal(m.Data, &r); err != nil {
			r.Status = "bad reply: " + err.Error()
		}
		onReply(r)
	})
	if err != nil {
		return nil, err
	}
	_ = sub.SetPendingLimits(-1, -1)
	b.sub = sub
	return b, nil
}

func (b *fastBatch) reply(seq uint64, op int) string {
	return b.inbox + strconv.FormatUint(seq, 10) + "." + strconv.Itoa(op) + ".$FI"
}

// Add publishes m as the batch's next message and returns its batch
// sequence. m.Reply is set here.
func (b *fastBatch) Add(m *nats.Msg) (uint64, error) {
	b.seq++
	op := fbAppend
	if b.seq == 1 {
		op = fbStart
		b.subject = m.Subject
	}
	m.Reply = b.reply(b.seq, op)
	return b.seq, b.nc.PublishMsg(m)
}

// CommitEOB ends the batch at the last message sent; the server answers
// with a PubAck once all of them are stored.
func (b *fastBatch) CommitEOB() error {
	return b.nc.PublishRequest(b.subject, b.reply(b.seq+1, fbCommitEOB), nil)
}

// Ping asks the server to resend its last flow ack.
func (b *fastBatch) Ping() error {
	return b.nc.PublishRequest(b.subject, b.reply(b.seq, fbPing), nil)
}

func (b *fastBatch) Close() { _ = b.sub.Unsubscribe() }

// replySeq is the batch sequence in the reply subject a reply came on.
func replySeq(subject string) uint64 {
	t := strings.Split(subject, ".")
	if len(t) < 3 {
		return 0
	}
	n, _ := strconv.ParseUint(t[len(t)-3], 10, 64)
	return n
}

// batchStream creates the stream of these tests and benchmarks: file
// storage, work queue, a de-duplication window, batch publishing allowed,
// like RELAY_RAW (bus.Config.Streams) plus allow_batched.
func batchStream(tb testing.TB, js jetstream.JetStream, adjust func(*jetstream.StreamConfig)) {
	tb.Helper()
	sc := jetstream.StreamConfig{
		Name: "RAW", Subjects: []string{"raw.>"}, Storage: jetstream.FileStorage,
		Retention: jetstream.WorkQueuePolicy, Duplicates: 2 * time.Minute, MaxMsgSize: 8 << 20,
		AllowBatchPublish: true,
	}
	if adjust != nil {
		adjust(&sc)
	}
	if _, err := js.CreateStream(tb.Context(), sc); err != nil {
		tb.Fatalf("creating stream: %v", err)
	}
}

// replies collects a batch's replies for the tests.
type replies struct {
	mu  sync.Mutex
	got []batchReply
	ch  chan struct{}
}

func newReplies() *replies { return &replies{ch: make(chan struct{}, 1)} }

func (r *replies) add(b batchReply) {
	r.mu.Lock()
	r.got = append(r.got, b)
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
}

// wait waits until a reply satisfies ok and returns it.
func (r *replies) wait(tb testing.TB, what string, ok func(batchReply) bool) batchReply {
	tb.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		for _, b := range r.got {
			if ok(b) {
				r.mu.Unlock()
				return b
			}
		}
		got := fmt.Sprintf("%+v", r.got)
		r.mu.Unlock()
		select {
		case <-r.ch:
		case <-deadline:
			tb.Fatalf("no reply %s within 10s; got %s", what, got)
		}
	}
}

func isPubAck(b batchReply) bool { return b.Type == "" && b.Status == "" }

func frameMsg(subject, id string, data []byte) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Header.Set(jetstream.MsgIDHeader, id)
	m.Data = data
	return m
}

func storedIDs(tb testing.TB, js jetstream.JetStream) []string {
	tb.Helper()
	msgs, err := natstest.Stored(tb.Context(), js, "RAW")
	if err != nil {
		tb.Fatal(err)
	}
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.Header.Get(jetstream.MsgIDHeader)
	}
	return ids
}

// TestFastBatchDeduplicates: a Nats-Msg-Id already stored, or repeated
// within the batch, is not stored again; the batch goes on, and the flow
// acks and the final PubAck count the duplicate as done (nothing says it
// was one).
func TestFastBatchDeduplicates(t *testing.T) {
	nc := natstest.Connect(t, natstest.RunServer(t))
	js := natstest.JetStream(t, nc)
	batchStream(t, js, nil)
	if _, err := js.PublishMsg(t.Context(), frameMsg("raw.f", "a", []byte("a"))); err != nil {
		t.Fatal(err)
	}

	r := newReplies()
	b, err := newFastBatch(nc, 1, r.add) // an ack per message
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, id := range []string{"b", "a", "c", "b", "d"} {
		if _, err := b.Add(frameMsg("raw.f", id, []byte(id))); err != nil {
			t.Fatal(err)
		}
	}
	r.wait(t, "acking batch sequence 5", func(x batchReply) bool { return x.Type == "ack" && x.Seq == 5 })
	if err := b.CommitEOB(); err != nil {
		t.Fatal(err)
	}
	ack := r.wait(t, "PubAck", isPubAck)
	if ack.Error != nil || ack.Count != 5 || ack.Seq != 4 {
		t.Errorf("PubAck = %+v, want count 5 (batch messages), seq 4 (last stored), no error", ack)
	}
	if got, want := strings.Join(storedIDs(t, js), ","), "a,b,c,d"; got != want {
		t.Errorf("stored ids %s, want %s", got, want)
	}
	for _, x := range r.got {
		if x.Type == "err" || x.Type == "gap" || x.Error != nil {
			t.Errorf("reply %+v: a duplicate is not an error", x)
		}
	}
}

// TestFastBatchAcksArePrefixes: a flow ack comes every `msgs` stored
// messages and, in gap-fail mode, means every message up to its sequence
// is stored. The messages after the last multiple of msgs are stored but
// not acked: a ping only repeats the last flow ack, and only the commit's
// PubAck covers them.
func TestFastBatchAcksArePrefixes(t *testing.T) {
	nc := natstest.Connect(t, natstest.RunServer(t))
	js := natstest.JetStream(t, nc)
	batchStream(t, js, nil)

	var (
		mu          sync.Mutex
		storedAtAck = map[uint64]uint64{} // flow ack seq -> stream messages when it arrived
	)
	r := newReplies()
	b, err := newFastBatch(nc, 4, func(x batchReply) {
		if x.Type == "ack" {
			// Read the stream state on another goroutine: the reply
			// handler must not block on a request over the same
			// subscription machinery.
			go func() {
				info, err := js.Stream(t.Context(), "RAW")
				if err == nil {
					mu.Lock()
					storedAtAck[x.Seq] = info.CachedInfo().State.Msgs
					mu.Unlock()
				}
			}()
		}
		r.add(x)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := range 10 {
		id := "f" + strconv.Itoa(i+1)
		if _, err := b.Add(frameMsg("raw.f", id, []byte(id))); err != nil {
			t.Fatal(err)
		}
	}
	first := r.wait(t, "flow ack 0 (the batch started)", func(x batchReply) bool { return x.Type == "ack" && x.Seq == 0 })
	if first.Msgs != 4 {
		t.Errorf("first flow ack %+v, want msgs 4 (the flow the client asked for)", first)
	}
	r.wait(t, "flow ack 8", func(x batchReply) bool { return x.Type == "ack" && x.Seq == 8 })
	natstest.WaitStored(t, js, "RAW", 10, 10*time.Second)

	// 9 and 10 are stored; a ping does not say so.
	if err := b.Ping(); err != nil {
		t.Fatal(err)
	}
	ping := r.wait(t, "the ping's answer", func(x batchReply) bool { return x.Type == "ack" && replySeq(x.Subject) == 10 })
	if ping.Seq != 8 {
		t.Errorf("ping answered %+v, want the last flow ack, seq 8", ping)
	}
	if err := b.CommitEOB(); err != nil {
		t.Fatal(err)
	}
	ack := r.wait(t, "PubAck", isPubAck)
	if ack.Error != nil || ack.Count != 10 || ack.Seq != 10 {
		t.Errorf("PubAck = %+v, want count 10, seq 10", ack)
	}
	var acks []uint64
	for _, x := range r.got {
		if x.Type == "ack" && replySeq(x.Subject) != 10 {
			acks = append(acks, x.Seq)
		}
	}
	if got, want := fmt.Sprint(acks), "[0 4 8]"; got != want {
		t.Errorf("flow acks %s, want %s (every 4 stored messages)", got, want)
	}
	natstest.WaitFor(t, 5*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		for seq, n := range storedAtAck {
			if n < seq {
				return fmt.Errorf("flow ack %d arrived with %d messages stored", seq, n)
			}
		}
		if len(storedAtAck) < 3 {
			return fmt.Errorf("%d flow acks checked, want 3", len(storedAtAck))
		}
		return nil
	})
}

// TestFastBatchFailureEndsIt: in gap-fail mode, a message the stream
// refuses ends the batch: the server commits what was stored before it,
// answers with a PubAck whose count is that prefix, and stores nothing of
// the batch after it; the messages after it get an error each. The client
// must republish the rest in a new batch.
func TestFastBatchFailureEndsIt(t *testing.T) {
	for _, tt := range []struct {
		name    string
		adjust  func(*jetstream.StreamConfig)
		big     bool   // message 3 exceeds MaxMsgSize
		wantErr uint16 // the error the refused message gets
	}{
		{name: "StreamFullDiscardNew", adjust: func(sc *jetstream.StreamConfig) {
			sc.MaxMsgs, sc.Discard = 2, jetstream.DiscardNew
		}, wantErr: 10077},
		{name: "MessageTooBig", adjust: func(sc *jetstream.StreamConfig) { sc.MaxMsgSize = 1024 }, big: true, wantErr: 10054},
	} {
		t.Run(tt.name, func(t *testing.T) {
			nc := natstest.Connect(t, natstest.RunServer(t))
			js := natstest.JetStream(t, nc)
			batchStream(t, js, tt.adjust)
			r := newReplies()
			b, err := newFastBatch(nc, 1, r.add)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			for i := range 5 {
				id := "f" + strconv.Itoa(i+1)
				data := []byte(id)
				if tt.big && i == 2 {
					data = make([]byte, 2048)
				}
				if _, err := b.Add(frameMsg("raw.f", id, data)); err != nil {
					t.Fatal(err)
				}
			}
			ack := r.wait(t, "PubAck", func(x batchReply) bool { return isPubAck(x) && x.Count > 0 })
			if ack.Count != 2 || ack.Error != nil {
				t.Errorf("PubAck = %+v, want count 2 (the prefix stored), no error", ack)
			}
			refused := r.wait(t, "an error for message 3", func(x batchReply) bool {
				return x.Error != nil && replySeq(x.Subject) == 3
			})
			if refused.Error.ErrorCode != jetstream.ErrorCode(tt.wantErr) {
				t.Errorf("message 3: %+v, want error code %d", refused.Error, tt.wantErr)
			}
			if got, want := strings.Join(storedIDs(t, js), ","), "f1,f2"; got != want {
				t.Errorf("stored ids %s, want %s", got, want)
			}
			// The batch is gone: the messages after it are refused one by one.
			later := r.wait(t, "an error for message 5", func(x batchReply) bool {
				return x.Error != nil && replySeq(x.Subject) == 5
			})
			if later.Error.ErrorCode != 10208 {
				t.Errorf("message 5: %+v, want error code 10208 (batch publish ID unknown)", later.Error)
			}
		})
	}
}

// ---- the benchmark ----

// trialFrames returns n connector-sized frames (the Discord fixtures of the
// contract but the PING, 1.8–4.3 KB, ≈ 2.9 KB on average), each with a
// unique Nats-Msg-Id, built before any clock starts.
func trialFrames(tb testing.TB, n int) []*nats.Msg {
	tb.Helper()
	var bodies [][]byte
	for _, name := range fixtures.Contract[1:] {
		body, err := fixtures.ReadDiscord(name)
		if err != nil {
			tb.Fatal(err)
		}
		bodies = append(bodies, body)
	}
	msgs := make([]*nats.Msg, n)
	for i := range msgs {
		msgs[i] = frameMsg("raw.discord.f", "bench-"+strconv.Itoa(i), bodies[i%len(bodies)])
	}
	return msgs
}

// trialWindow is ws-edge's default publish window (WSEDGE_PUBLISH_WINDOW).
const trialWindow = 1024

// trialVariant publishes every frame and calls stored(k) when the first k
// frames are known to be stored (k only grows); it returns once all are.
type trialVariant struct {
	name string
	run  func(b *testing.B, nc *nats.Conn, js jetstream.JetStream, frames []*nats.Msg, stored func(int))
}

// trialVariants are the variants of BenchmarkBatchTrial. A file in the
// same package may append to it (jetstreamext's FastPublisher was measured
// that way, outside the module: see docs/performance.md).
var trialVariants = []trialVariant{
	{"async", runAsync},
	{"bus", runBusPublisher},
	{"fast100", func(b *testing.B, nc *nats.Conn, _ jetstream.JetStream, f []*nats.Msg, s func(int)) {
		runFast(b, nc, f, 100, s)
	}},
	{"fast10", func(b *testing.B, nc *nats.Conn, _ jetstream.JetStream, f []*nats.Msg, s func(int)) {
		runFast(b, nc, f, 10, s)
	}},
	// A flow ack per message: each frame's durability known as soon as
	// with a PubAck.
	{"fast1", func(b *testing.B, nc *nats.Conn, _ jetstream.JetStream, f []*nats.Msg, s func(int)) {
		runFast(b, nc, f, 1, s)
	}},
}

// runAsync is ws-edge today (wsedge/pipeline.go): PublishMsgAsync per
// frame in a window, one goroutine taking the futures in order and acking
// each frame on its PubAck.
func runAsync(b *testing.B, nc *nats.Conn, _ jetstream.JetStream, frames []*nats.Msg, stored func(int)) {
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(2*trialWindow+16))
	if err != nil {
		b.Fatal(err)
	}
	runWindow(b, frames, stored, func(m *nats.Msg) (func() error, error) {
		paf, err := js.PublishMsgAsync(m)
		if err != nil {
			return nil, err
		}
		return func() error {
			select {
			case <-paf.Ok():
				return nil
			case err := <-paf.Err():
				return err
			}
		}, nil
	})
}

// runBusPublisher is the same window on bus.Publisher.
func runBusPublisher(b *testing.B, nc *nats.Conn, _ jetstream.JetStream, frames []*nats.Msg, stored func(int)) {
	p, err := bus.NewPublisher(nc, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	runWindow(b, frames, stored, func(m *nats.Msg) (func() error, error) {
		a, err := p.PublishAsync(m)
		if err != nil {
			return nil, err
		}
		return func() error { _, err := a.Wait(b.Context()); return err }, nil
	})
}

// runWindow publishes frames with publish, at most trialWindow awaiting
// their PubAck, and one goroutine waiting for them in order and counting
// each stored one (ws-edge's pattern).
func runWindow(b *testing.B, frames []*nats.Msg, stored func(int), publish func(*nats.Msg) (wait func() error, err error)) {
	slots := make(chan struct{}, trialWindow)
	queue := make(chan func() error, trialWindow)
	done := make(chan error, 1)
	go func() {
		for k := range len(frames) {
			if err := (<-queue)(); err != nil {
				done <- err
				return
			}
			stored(k + 1)
			<-slots
		}
		done <- nil
	}()
	for _, m := range frames {
		slots <- struct{}{}
		wait, err := publish(m)
		if err != nil {
			b.Fatal(err)
		}
		queue <- wait
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// runFast publishes all frames as one fast batch asking for a flow ack
// every flow messages, with at most trialWindow frames not yet acked, and
// ends it with an EOB commit, whose PubAck covers the tail (ws-edge would
// have to commit whenever its input runs dry, or a frame could wait for
// its ack until flow more frames come).
func runFast(b *testing.B, nc *nats.Conn, frames []*nats.Msg, flow uint16, stored func(int)) {
	var acked atomic.Uint64
	wake := make(chan struct{}, 1)
	done := make(chan error, 1)
	fb, err := newFastBatch(nc, flow, func(r batchReply) {
		switch {
		case r.Type == "ack":
			if r.Seq > acked.Load() {
				acked.Store(r.Seq)
				stored(int(r.Seq))
			}
			select {
			case wake <- struct{}{}:
			default:
			}
		case isPubAck(r) && r.Error == nil:
			stored(int(r.Count))
			done <- nil
		default:
			done <- fmt.Errorf("batch reply %+v", r)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer fb.Close()
	for i, m := range frames {
		for uint64(i)-acked.Load() >= trialWindow {
			select {
			case <-wake:
			case err := <-done:
				b.Fatal(err)
			case <-time.After(5 * time.Second):
				b.Fatalf("no flow ack past %d within 5s", acked.Load())
			}
		}
		if _, err := fb.Add(m); err != nil {
			b.Fatal(err)
		}
	}
	if err := fb.CommitEOB(); err != nil {
		b.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			b.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		b.Fatalf("no PubAck within 30s; acked %d of %d", acked.Load(), len(frames))
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBatchTrial: one op is one frame published to a file-backed
// work-queue stream and known to be stored. It reports msgs/s and the
// process CPU (this benchmark and the embedded server) per message. Run
// the variants alternately, as separate invocations, to interleave them:
//
//	go test -c -o /tmp/bus.test ./bus
//	for r in 1 2 3 4 5 6; do for v in async bus fast100 fast10 fast1; do
//	  /tmp/bus.test -test.run '^$' -test.bench "BatchTrial/^$v\$" -test.benchtime 40000x; done; done
func BenchmarkBatchTrial(b *testing.B) {
	for _, v := range trialVariants {
		b.Run(v.name, func(b *testing.B) {
			ns := natstest.RunServer(b)
			nc := natstest.Connect(b, ns)
			js := natstest.JetStream(b, nc)
			batchStream(b, js, nil)
			frames := trialFrames(b, b.N)
			var got atomic.Int64
			stored := func(k int) {
				if int64(k) > got.Load() {
					got.Store(int64(k))
				}
			}
			cpu0, t0 := cpuTime(), time.Now()
			b.ResetTimer()
			v.run(b, nc, js, frames, stored)
			b.StopTimer()
			el, cpu := time.Since(t0), cpuTime()-cpu0
			if got.Load() != int64(b.N) {
				b.Fatalf("%d of %d frames known stored", got.Load(), b.N)
			}
			info, err := js.Stream(b.Context(), "RAW")
			if err != nil {
				b.Fatal(err)
			}
			if n := info.CachedInfo().State.Msgs; n != uint64(b.N) {
				b.Fatalf("stream holds %d, want %d", n, b.N)
			}
			b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/msg")
		})
	}
}
