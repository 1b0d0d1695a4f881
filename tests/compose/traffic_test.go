package compose

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/tests/internal/relaytest"
)

// traffic is n chat messages posted to the dev connector's /inbound, one
// per interval, spread over chats group chats. Message i has the id
// "<prefix>-<i>" and the text "m <id>"; the echo agent answers it with
// "echo: m <id>" in the same chat.
type traffic struct {
	prefix   string
	n, chats int
	sent     atomic.Int64
	done     chan struct{}
	errs     atomic.Int64
}

func (tr *traffic) id(i int) string { return fmt.Sprintf("%s-%05d", tr.prefix, i) }
func (tr *traffic) chat(i int) string {
	return fmt.Sprintf("%s-chat-%d", tr.prefix, i%tr.chats)
}

// send starts posting from a goroutine of its own.
func send(p *project, prefix string, n, chats int, interval time.Duration) *traffic {
	tr := &traffic{prefix: prefix, n: n, chats: chats, done: make(chan struct{})}
	go func() {
		defer close(tr.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i := 0; i < n; i++ {
			body, _ := json.Marshal(map[string]any{
				"text":       "m " + tr.id(i),
				"message_id": tr.id(i),
				"source": map[string]any{
					"platform":  "discord",
					"chat_id":   tr.chat(i),
					"chat_type": events.ChatGroup,
					"user_id":   "u1",
					"scope_id":  "g1",
				},
			})
			// The dev connector is never restarted: a failed POST is the
			// test's own trouble (retried, counted).
			for try := 0; ; try++ {
				if err := p.post("/inbound", body); err == nil {
					break
				} else if try == 20 {
					p.t.Errorf("posting %s: %v", tr.id(i), err)
					return
				}
				tr.errs.Add(1)
				time.Sleep(250 * time.Millisecond)
			}
			tr.sent.Add(1)
			<-tick.C
		}
	}()
	return tr
}

// waitSent waits until at least k messages were posted.
func (tr *traffic) waitSent(t *testing.T, k int) {
	t.Helper()
	natstest.WaitFor(t, deliverTimeout, func() error {
		if s := int(tr.sent.Load()); s < k {
			return fmt.Errorf("%d of %d sent", s, k)
		}
		return nil
	})
}

func (tr *traffic) ids() []string {
	ids := make([]string, tr.n)
	for i := range ids {
		ids[i] = tr.id(i)
	}
	return ids
}

// index parses "<prefix>-<i>" (-1 for another test's id).
func (tr *traffic) index(id string) int {
	s, ok := strings.CutPrefix(id, tr.prefix+"-")
	if !ok {
		return -1
	}
	i, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return i
}

// outboundRecord is one of the dev connector's GET /outbound records.
type outboundRecord struct {
	RequestID string         `json:"requestId"`
	Action    map[string]any `json:"action"`
	Result    map[string]any `json:"result"`
}

// replies returns the echo agent's replies to this traffic that reached the
// connector, in the order they arrived: message index and chat.
func (tr *traffic) replies(p *project) ([]int, []string, error) {
	var recs []outboundRecord
	if err := p.getJSON("/outbound", &recs); err != nil {
		return nil, nil, err
	}
	var idx []int
	var chats []string
	for _, r := range recs {
		content, _ := r.Action["content"].(string)
		id, ok := strings.CutPrefix(content, "echo: m ")
		if !ok {
			continue
		}
		if i := tr.index(id); i >= 0 {
			chat, _ := r.Action["chat_id"].(string)
			idx = append(idx, i)
			chats = append(chats, chat)
		}
	}
	return idx, chats, nil
}

// outcome is what a test reports: counts by id, and order by chat.
type outcome struct {
	sent                             int
	stored, storedLost, storedDup    int
	replied, repliedLost, repliedDup int
	storedDisorder, repliedDisorder  int
	elapsed                          time.Duration
}

func (o outcome) String() string {
	return fmt.Sprintf("sent %d; stored for agents %d (lost %d, duplicated %d, out of chat order %d); "+
		"replies at the connector %d (lost %d, duplicated %d, out of chat order %d); in %s",
		o.sent, o.stored, o.storedLost, o.storedDup, o.storedDisorder,
		o.replied, o.repliedLost, o.repliedDup, o.repliedDisorder, o.elapsed.Round(time.Second))
}

// ordered is what check asserts the per-chat order of.
type ordered int

const (
	// anyOrder: per-chat order not checked.
	anyOrder ordered = 0
	// eventsInOrder: the events stored for agents (RELAY_INBOUND), in
	// stream order, are in each chat's order.
	eventsInOrder ordered = 1 << (iota - 1)
	// repliesInOrder: the echo agent's replies reached the connector in
	// each chat's order.
	repliesInOrder
	inOrder = eventsInOrder | repliesInOrder
)

// check waits until the traffic was all sent and every message has its
// reply at the connector (or deliverTimeout passed), lets the pipeline
// settle, then counts by id what RELAY_INBOUND stored (read back in stream
// order) and what the connector received, and checks per-chat order of
// the events and the replies as order says (each event stored out of order
// is described: its and its chat's later event's sequences and times).
// Lost and duplicated ids always fail the test.
func (tr *traffic) check(tt *testing.T, p *project, start time.Time, order ordered) outcome {
	tt.Helper()
	t := p.tb // failures also repeated after the container logs
	<-tr.done
	o := outcome{sent: int(tr.sent.Load())}
	deadline := time.Now().Add(deliverTimeout)
	for {
		idx, _, err := tr.replies(p)
		distinct := map[int]bool{}
		for _, i := range idx {
			distinct[i] = true
		}
		if err == nil && len(distinct) >= tr.n {
			break
		}
		if time.Now().After(deadline) {
			if !p.cluster {
				p.natsURL = "nats://" + p.port("nats", 4222)
			}
			_, js := p.connect()
			t.Errorf("after %s: %d of %d replies at the connector (%v); %s", deliverTimeout, len(distinct), tr.n, err, p.pipeline(js))
			break
		}
		time.Sleep(time.Second)
	}
	o.elapsed = time.Since(start)

	// The host's NATS port may have changed (a restarted container); a
	// cluster's client has all three nodes' and uses those alive.
	if !p.cluster {
		p.natsURL = "nats://" + p.port("nats", 4222)
	}
	_, js := p.connect()
	// Settled: nothing left in the work queues, so nothing more can appear.
	relaytest.WaitStreamEmpty(t, js, events.RawStream, 60*time.Second)
	relaytest.WaitStreamEmpty(t, js, events.OutboundStream, 60*time.Second)
	time.Sleep(2 * time.Second)

	stored := map[string]int{}
	lastStored := map[string]int{}
	latest := map[string]string{} // per chat: where its latest message so far was stored
	relaytest.Scan(t, js, events.InboundStream, events.InboundMessageSubjects, func(m jetstream.Msg) {
		var ev events.MessageEvent
		if err := events.Unmarshal(m.Data(), m.Headers().Get(events.ContentTypeHeader), &ev); err != nil {
			t.Errorf("stored event on %s does not decode: %v", m.Subject(), err)
			return
		}
		i := tr.index(ev.MessageID)
		if i < 0 {
			return
		}
		stored[ev.MessageID]++
		o.stored++
		chat := ev.Source.ChatID
		if last, ok := lastStored[chat]; ok && i < last {
			o.storedDisorder++
			t.Logf("stored out of chat order: %s after %s", storedAt(ev.MessageID, m), latest[chat])
		}
		if last, ok := lastStored[chat]; !ok || i > last {
			lastStored[chat] = i
			latest[chat] = storedAt(ev.MessageID, m)
		}
	})
	natstest.Tally(t, "stored for agents (RELAY_INBOUND)", tr.ids(), stored)

	idx, chats, err := tr.replies(p)
	if err != nil {
		t.Fatal(err)
	}
	replied := map[string]int{}
	lastReplied := map[string]int{}
	for k, i := range idx {
		replied[tr.id(i)]++
		if last, ok := lastReplied[chats[k]]; ok && i < last {
			o.repliedDisorder++
		}
		lastReplied[chats[k]] = max(lastReplied[chats[k]], i)
	}
	o.replied = len(idx)
	natstest.Tally(t, "echo replies at the connector", tr.ids(), replied)
	tr.explainDuplicates(t, p, replied)
	for _, id := range tr.ids() {
		switch n := stored[id]; {
		case n == 0:
			o.storedLost++
		case n > 1:
			o.storedDup++
		}
		switch n := replied[id]; {
		case n == 0:
			o.repliedLost++
		case n > 1:
			o.repliedDup++
		}
	}
	t.Logf("outcome: %s", o)
	p.tb.keep("outcome: " + o.String())
	if order&eventsInOrder != 0 && o.storedDisorder > 0 {
		t.Errorf("per-chat order: %d events stored for agents after a later message of their chat", o.storedDisorder)
	}
	if order&repliesInOrder != 0 && o.repliedDisorder > 0 {
		t.Errorf("per-chat order: %d replies reached the connector after a reply to a later message of their chat", o.repliedDisorder)
	}
	if tr.errs.Load() > 0 {
		t.Logf("%d POSTs to the dev connector were retried", tr.errs.Load())
	}
	return o
}

// storedAt describes where an event was stored, for a report of disorder:
// its RELAY_INBOUND sequence and time, and the headers that say where its
// frame was (Relay-Raw-Seq, Relay-Raw-Stored-At, Relay-Received-At).
func storedAt(id string, m jetstream.Msg) string {
	var seq uint64
	var ts string
	if md, err := m.Metadata(); err == nil {
		seq, ts = md.Sequence.Stream, md.Timestamp.UTC().Format(time.RFC3339Nano)
	}
	h := m.Headers()
	return fmt.Sprintf("%s (inbound seq %d stored %s; raw seq %s stored %s; received by ws-edge %s; %s %s)",
		id, seq, ts, h.Get(events.RawSeqHeader), h.Get(events.RawStoredAtHeader), h.Get(events.ReceivedAtHeader),
		events.MsgIDHeader, h.Get(events.MsgIDHeader))
}

// explainDuplicates logs the connector's records of every reply that
// arrived more than once: whether the frames were one action sent twice
// (same action id) or two actions.
func (tr *traffic) explainDuplicates(t testing.TB, p *project, replied map[string]int) {
	var recs []outboundRecord
	if err := p.getJSON("/outbound", &recs); err != nil {
		return
	}
	for _, r := range recs {
		content, _ := r.Action["content"].(string)
		if id, ok := strings.CutPrefix(content, "echo: m "); ok && replied[id] > 1 {
			b, _ := json.Marshal(r)
			t.Logf("duplicated reply %s: %s", id, b)
		}
	}
}
