package wsedge_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/services/ws-edge/wsedge"
)

// newClock returns the clock the tests inject as Deps.Now.
func newClock() *natstest.Clock {
	return natstest.NewClock(time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC))
}

// shortWindow makes RELAY_RAW's server window 1 s, so that a test can
// outlive it, and names the replica.
func shortWindow(instance string) func(*wsedge.Config) {
	return func(c *wsedge.Config) {
		c.InstanceID = instance
		c.Bus.RawDuplicateWindow = time.Second
	}
}

// ids returns prefix-1 … prefix-n.
func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + "-" + strconv.Itoa(i+1)
	}
	return out
}

// sendAcked sends one inbound frame per id and waits for every ack.
func sendAcked(tb testing.TB, p *peer, bufferIDs []string) {
	tb.Helper()
	frames := make([]string, len(bufferIDs))
	for i, id := range bufferIDs {
		frames[i] = inboundFrame(id, "text "+id)
	}
	p.send(frames...)
	want := map[string]bool{}
	for _, id := range bufferIDs {
		want[id] = true
	}
	for range bufferIDs {
		ack := p.expect("inbound_ack")
		id, _ := ack["bufferId"].(string)
		if !want[id] {
			tb.Fatalf("unexpected or repeated ack %v", ack)
		}
		delete(want, id)
	}
}

// waitWindowExpired waits until RELAY_RAW's server window no longer knows
// a probe id published now: from then on only the ack log can recognise
// the ids stored before.
func waitWindowExpired(tb testing.TB, h *harness) {
	tb.Helper()
	probe := func() *nats.Msg {
		m := nats.NewMsg(events.RawSubject("probe") + ".x")
		m.Data = []byte(`{"type":"probe"}`)
		m.Header.Set(events.MsgIDHeader, "probe")
		return m
	}
	if _, err := h.js.PublishMsg(context.Background(), probe()); err != nil {
		tb.Fatal(err)
	}
	natstest.WaitFor(tb, 10*time.Second, func() error {
		ack, err := h.js.PublishMsg(context.Background(), probe())
		if err != nil {
			return err
		}
		if ack.Duplicate {
			return fmt.Errorf("the probe is still in RELAY_RAW's window")
		}
		return nil
	})
}

// storedByID counts the stored inbound frames by Nats-Msg-Id once there
// are want of them.
func storedByID(tb testing.TB, h *harness, want int) map[string]int {
	tb.Helper()
	got := map[string]int{}
	for _, m := range h.streamMsgs(events.RawStream, rawInbound, want) {
		got[m.Header.Get(events.MsgIDHeader)]++
	}
	return got
}

// checkOnce fails unless every id of want is stored exactly once and
// nothing else is.
func checkOnce(tb testing.TB, got map[string]int, want ...[]string) {
	tb.Helper()
	n := 0
	for _, w := range want {
		for _, id := range w {
			n++
			if got[id] != 1 {
				tb.Errorf("%s stored %d times, want 1", id, got[id])
			}
		}
	}
	if len(got) != n {
		tb.Errorf("stored %d distinct ids, want %d: %v", len(got), n, got)
	}
}

// TestReplayAfterLongOutageIsAbsorbed: frames acked, then the gateway
// crashes and stays down for 50 minutes (its clock; RELAY_RAW's server
// window, 1 s here, long expired; the ack log keeps an hour). After the
// restart the connector replays them, with the frames it buffered meanwhile:
// the replays are absorbed (acked, not stored again), the new ones stored.
// Counted by id: nothing lost, nothing stored twice.
func TestReplayAfterLongOutageIsAbsorbed(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out a 1 s server window")
	}
	ns := natstest.RunServer(t)
	clk := newClock()
	acked, fresh := ids("a", 50), ids("n", 20)

	h1 := replica(t, ns, clk.Now, shortWindow("edge-before-crash"))
	p1 := h1.handshaken()
	sendAcked(t, p1, acked)
	h1.waitMetric(float64(len(acked)), "relay_wsedge_acklog_ids_total")
	if err := h1.stop(); err != nil { // the crash (the acks it wrote are lost with the socket)
		t.Fatalf("Run = %v", err)
	}
	waitWindowExpired(t, h1)
	clk.Advance(50 * time.Minute)

	h2 := replica(t, ns, clk.Now, shortWindow("edge-after-restart"))
	p2 := h2.handshaken()
	if got := h2.metric("relay_wsedge_replay_set_ids"); got != float64(len(acked)) {
		t.Errorf("replay set holds %v ids after the restart, want %d", got, len(acked))
	}
	// The connector replays its whole buffer: what it never got an ack for
	// (all of acked, as far as it knows) and what it buffered while down.
	var all []string
	for i := range acked {
		all = append(all, acked[i])
		if i < len(fresh) {
			all = append(all, fresh[i])
		}
	}
	sendAcked(t, p2, all)
	checkOnce(t, storedByID(t, h2, len(acked)+len(fresh)), acked, fresh)
	h2.waitMetric(float64(len(acked)), "relay_wsedge_replays_absorbed_total")
	if got := h2.metric("relay_wsedge_duplicates_total"); got != 0 {
		t.Errorf("relay_wsedge_duplicates_total = %v, want 0 (the server window had expired)", got)
	}
}

// TestReplayToAnotherReplicaIsAbsorbed: replica A acks frames; the
// connector then replays them to replica B (a second ws-edge on the same
// NATS, A still running), after RELAY_RAW's server window: B absorbs them.
func TestReplayToAnotherReplicaIsAbsorbed(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out a 1 s server window")
	}
	ns := natstest.RunServer(t)
	acked, fresh := ids("a", 30), ids("n", 10)

	a := replica(t, ns, nil, shortWindow("edge-a"))
	pa := a.handshaken()
	sendAcked(t, pa, acked)
	waitWindowExpired(t, a)

	b := replica(t, ns, nil, shortWindow("edge-b"))
	pb := b.handshaken()
	sendAcked(t, pb, append(append([]string(nil), acked...), fresh...))
	checkOnce(t, storedByID(t, b, len(acked)+len(fresh)), acked, fresh)
	b.waitMetric(float64(len(acked)), "relay_wsedge_replays_absorbed_total")
	if got := a.metric("relay_wsedge_replays_absorbed_total"); got != 0 {
		t.Errorf("replica A absorbed %v replays, want 0 (it got none)", got)
	}
}

// TestLoadTakesTheHorizonBeforeTheLatestAck: the set loaded at a connect
// holds what a writer logged within WSEDGE_ACK_HORIZON of its latest batch
// (its clock), not everything of the replay horizon: an ack older than that
// cannot have been lost with the socket.
func TestLoadTakesTheHorizonBeforeTheLatestAck(t *testing.T) {
	ns := natstest.RunServer(t)
	clk := newClock()
	h1 := replica(t, ns, clk.Now, shortWindow("edge-1"))
	p1 := h1.handshaken()
	sendAcked(t, p1, []string{"old-1", "old-2"})
	clk.Advance(3 * time.Minute) // beyond the 2 min horizon
	sendAcked(t, p1, []string{"recent-1"})
	if err := h1.stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}

	h2 := replica(t, ns, clk.Now, shortWindow("edge-2"))
	h2.handshaken()
	if got := h2.metric("relay_wsedge_acklog_loaded_ids_total"); got != 1 {
		t.Errorf("loaded %v ids, want 1 (recent-1 only)", got)
	}
}

// TestReplaySetIsDropped: the set loaded at a connect is dropped twice
// WSEDGE_ACK_HORIZON later (its clock): memory follows the horizon. A
// replay after that is the server window's (here still open: a duplicate).
func TestReplaySetIsDropped(t *testing.T) {
	clk := newClock()
	h := replica(t, natstest.RunServer(t), clk.Now, func(c *wsedge.Config) { c.InstanceID = "edge-clock" })
	p1 := h.handshaken()
	sendAcked(t, p1, ids("a", 5))
	p1.drop()
	p2 := h.conn.accept(5 * time.Second)
	p2.handshake(1)
	h.waitReady()
	if got := h.metric("relay_wsedge_replay_set_ids"); got != 5 {
		t.Fatalf("replay set = %v ids after the reconnect, want 5", got)
	}
	clk.Advance(4*time.Minute + time.Second) // 2 × the 2 min horizon
	sendAcked(t, p2, []string{"a-1"})
	h.waitMetric(0, "relay_wsedge_replay_set_ids")
	h.waitMetric(1, "relay_wsedge_duplicates_total")
	if got := h.metric("relay_wsedge_replays_absorbed_total"); got != 0 {
		t.Errorf("relay_wsedge_replays_absorbed_total = %v after the drop, want 0", got)
	}
}

// TestAckedOnlyOnceLogged: when an inbound_ack arrives, the frame is stored
// and its id's hash (64-bit FNV-1a, after the batch's 8-byte time) is in
// RELAY_ACKLOG on this replica's subject.
func TestAckedOnlyOnceLogged(t *testing.T) {
	h := start(t, nil)
	sendAcked(t, h.handshaken(), []string{"b-logged"})
	msgs, err := h.readStream(bus.AckLogStream, "")
	if err != nil {
		t.Fatal(err)
	}
	f := fnv.New64a()
	_, _ = f.Write([]byte("b-logged"))
	want := f.Sum64()
	found := false
	for _, m := range msgs {
		if m.Subject != bus.AckLogSubject("edge-test") || m.Header.Get(events.TypeHeader) != bus.AckLogType {
			t.Errorf("ack batch on %s, type %q; want %s, %s", m.Subject, m.Header.Get(events.TypeHeader), bus.AckLogSubject("edge-test"), bus.AckLogType)
		}
		for i := 8; i+8 <= len(m.Data); i += 8 {
			found = found || binary.BigEndian.Uint64(m.Data[i:]) == want
		}
	}
	if !found {
		t.Errorf("at the ack, RELAY_ACKLOG (%d batches) does not hold the id's hash", len(msgs))
	}
	if raw, _ := h.readStream(events.RawStream, rawInbound); len(raw) != 1 {
		t.Errorf("at the ack, RELAY_RAW holds %d frames, want 1", len(raw))
	}
}

// TestAckWaitsForTheAckLog: a frame stored while its id cannot be logged
// (RELAY_ACKLOG gone) is not acked; once the log is back the batch is
// retried and the ack follows.
func TestAckWaitsForTheAckLog(t *testing.T) {
	h := start(t, func(c *wsedge.Config) { c.PublishTimeout = 500 * time.Millisecond })
	p := h.handshaken()
	var logCfg jetstream.StreamConfig
	for _, sc := range wsedge.DefaultConfig().Bus.Streams() {
		if sc.Name == bus.AckLogStream {
			logCfg = sc
		}
	}
	if err := h.js.DeleteStream(context.Background(), bus.AckLogStream); err != nil {
		t.Fatal(err)
	}
	p.send(inboundFrame("b-unlogged", "stored, not yet logged"))
	h.streamMsgs(events.RawStream, rawInbound, 1)
	natstest.WaitFor(t, 5*time.Second, func() error {
		if got := h.metric("relay_wsedge_acklog_failures_total"); got < 1 {
			return fmt.Errorf("relay_wsedge_acklog_failures_total = %v, want >= 1", got)
		}
		return nil
	})
	select {
	case f := <-p.frames:
		t.Fatalf("frame %v while b-unlogged's id could not be logged, want no ack", f)
	default:
	}
	if _, err := h.js.CreateStream(context.Background(), logCfg); err != nil {
		t.Fatal(err)
	}
	if ack := p.expect("inbound_ack"); ack["bufferId"] != "b-unlogged" {
		t.Errorf("ack = %v, want b-unlogged", ack)
	}
	h.waitMetric(1, "relay_wsedge_acklog_batches_total")
}
