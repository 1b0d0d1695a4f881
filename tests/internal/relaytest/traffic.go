package relaytest

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/devconnector"
	"github.com/relaybus/relaybus/internal/fixtures"
	"github.com/relaybus/relaybus/pkg/agent"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/wire"
)

// InboundFields are the fields of an inbound frame carrying a group-chat
// message whose MessageEvent.MessageID is id, in one of 16 chats.
func InboundFields(id string, i int) map[string]any {
	return chatFields(id, fmt.Sprintf("chat-%d", i%16))
}

func chatFields(id, chat string) map[string]any {
	return map[string]any{"event": map[string]any{
		"text":       "hello " + id,
		"message_id": id,
		"source": map[string]any{
			"platform":  Platform,
			"chat_id":   chat,
			"chat_type": events.ChatGroup,
			"user_id":   "u1",
			"scope_id":  "g1",
		},
	}}
}

// ChatName is the chat id of chat c of a per-chat sequenced run
// ([ProduceChats], [PublishChatSends]): "<prefix>-c<c>".
func ChatName(prefix string, c int) string { return fmt.Sprintf("%s-c%03d", prefix, c) }

// ChatSeqID is the id of the seq-th message (0-based) of chat c of a
// per-chat sequenced run: "<chat>-<seq>". [SplitChatSeq] reverses it.
func ChatSeqID(prefix string, c, seq int) string {
	return fmt.Sprintf("%s-%04d", ChatName(prefix, c), seq)
}

// SplitChatSeq splits an id made by [ChatSeqID] into its chat and sequence
// number; ok is false for any other id.
func SplitChatSeq(id string) (chat string, seq int, ok bool) {
	i := strings.LastIndexByte(id, '-')
	if i < 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(id[i+1:])
	if err != nil {
		return "", 0, false
	}
	return id[:i], n, true
}

// ProduceChats starts feeding inbound frames to dev, messages from to to-1
// of each of chats chats, one per interval, round-robin over the chats:
// item i is message from+i/chats of chat i%chats, with MessageID (and
// text) [ChatSeqID]. Like [Produce], every frame is buffered by the
// connector until acked.
func ProduceChats(tb testing.TB, dev *devconnector.Server, prefix string, chats, from, to int, interval time.Duration) *Producer {
	tb.Helper()
	return pace(tb, chats*(to-from), interval, func(ctx context.Context, i int) (string, error) {
		id := ChatSeqID(prefix, i%chats, from+i/chats)
		_, err := dev.EmitContext(ctx, wire.FrameInbound, chatFields(id, ChatName(prefix, i%chats)))
		return id, err
	})
}

// PublishChatSends publishes send actions through an agent client, as an
// agent would (relay.outbound.send.<chat>), sends from to to-1 of each of
// chats chats, one per interval, round-robin over the chats, each stored
// before the next: item i is send from+i/chats to chat i%chats, whose
// content and action id are [ChatSeqID].
func PublishChatSends(tb testing.TB, cl *agent.Client, prefix string, chats, from, to int, interval time.Duration) *Producer {
	tb.Helper()
	return pace(tb, chats*(to-from), interval, func(ctx context.Context, i int) (string, error) {
		id := ChatSeqID(prefix, i%chats, from+i/chats)
		a := events.Action{Op: events.OpSend, ChatID: ChatName(prefix, i%chats), Content: id}
		return id, retryPublish(ctx, tb, i, func(ctx context.Context) error {
			_, err := cl.Publish(ctx, a, agent.WithID(id))
			return err
		})
	})
}

// retryPublish calls publish (bounded by 5 s each time) until it succeeds
// or ctx ends: the stream may be briefly unavailable.
func retryPublish(ctx context.Context, tb testing.TB, i int, publish func(context.Context) error) error {
	for {
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		err := publish(pctx)
		pcancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		tb.Logf("publishing action %d: %v (retrying)", i, err)
	}
}

// Interaction returns the Discord slash-command fixture with its
// interaction id (the event's MessageID) set to id.
func Interaction(tb testing.TB, id string) []byte {
	tb.Helper()
	raw, err := fixtures.ReadDiscord("02_slash_command_options.json")
	if err != nil {
		tb.Fatalf("relaytest: fixture: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		tb.Fatalf("relaytest: fixture: %v", err)
	}
	m["id"] = id
	b, err := json.Marshal(m)
	if err != nil {
		tb.Fatalf("relaytest: fixture: %v", err)
	}
	return b
}

// Producer feeds the pipeline at a paced rate from a goroutine of its own
// and records the ids it sent; see [Produce] and [PublishActions]. Its
// methods are safe for concurrent use.
type Producer struct {
	sent atomic.Int64
	done chan struct{}

	mu  sync.Mutex
	ids []string
}

// Produce starts feeding n items to dev, one per interval: inbound frames,
// and every tenth item a forwarded Discord interaction. Every item is
// buffered by the connector (it has a bufferId and is replayed until
// acked). The goroutine ends when all are buffered or the test ends. Event
// ids are "<prefix>-<i>" for inbound frames and "<prefix>-ix-<i>" for
// interactions.
func Produce(tb testing.TB, dev *devconnector.Server, prefix string, n int, interval time.Duration) *Producer {
	tb.Helper()
	bodies := make([][]byte, n)
	for i := 9; i < n; i += 10 {
		bodies[i] = Interaction(tb, fmt.Sprintf("%s-ix-%05d", prefix, i))
	}
	return pace(tb, n, interval, func(ctx context.Context, i int) (string, error) {
		if bodies[i] != nil {
			_, err := dev.ForwardInteraction(ctx, bodies[i], devconnector.InteractionOptions{})
			return fmt.Sprintf("%s-ix-%05d", prefix, i), err
		}
		id := fmt.Sprintf("%s-%05d", prefix, i)
		_, err := dev.EmitContext(ctx, wire.FrameInbound, InboundFields(id, i))
		return id, err
	})
}

// pace calls item for 0 … n-1, one per interval, in a goroutine of its own,
// and records the ids it returns. An error ends it, and fails the test
// unless the test is ending.
func pace(tb testing.TB, n int, interval time.Duration, item func(ctx context.Context, i int) (id string, err error)) *Producer {
	p := &Producer{done: make(chan struct{}), ids: make([]string, 0, n)}
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(func() {
		cancel()
		<-p.done
	})
	go func() {
		defer close(p.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i := range n {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			id, err := item(ctx, i)
			if err != nil {
				if ctx.Err() == nil {
					tb.Errorf("producer: item %d: %v", i, err)
				}
				return
			}
			p.mu.Lock()
			p.ids = append(p.ids, id)
			p.mu.Unlock()
			p.sent.Add(1)
		}
	}()
	return p
}

// Done is closed when the producer has finished.
func (p *Producer) Done() <-chan struct{} { return p.done }

// Sent returns how many items were buffered so far.
func (p *Producer) Sent() int { return int(p.sent.Load()) }

// WaitSent waits until at least n items were buffered.
func (p *Producer) WaitSent(tb testing.TB, n int, timeout time.Duration) {
	tb.Helper()
	waitAtLeast(tb, timeout, "items the producer has sent", n, p.Sent)
}

// Wait waits until the producer has finished and returns the ids it sent.
func (p *Producer) Wait(tb testing.TB, timeout time.Duration) []string {
	tb.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		tb.Fatalf("relaytest: producer not done within %v (%d sent)", timeout, p.Sent())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.ids...)
}

// ActionChats is how many chats SendAction spreads actions over.
const ActionChats = 20

// SendAction returns a MessagePack send action to chat i%ActionChats whose
// content and action id (Nats-Msg-Id) are both id.
func SendAction(tb testing.TB, id string, i int) *nats.Msg {
	tb.Helper()
	data, err := events.Marshal(events.Action{Op: events.OpSend, ChatID: fmt.Sprintf("dm-%d", i%ActionChats), Content: id}, events.ContentTypeMsgpack)
	if err != nil {
		tb.Fatalf("relaytest: encoding action: %v", err)
	}
	m := nats.NewMsg(events.OutboundSubject(events.OpSend))
	m.Data = data
	m.Header.Set(events.ContentTypeHeader, events.ContentTypeMsgpack)
	m.Header.Set(events.MsgIDHeader, id)
	return m
}

// PublishActions publishes n send actions with ids "<prefix>-<i>", one per
// interval, each stored by JetStream before the next (retried while the
// stream is unavailable), in a goroutine. The returned producer's Wait
// returns the ids.
func PublishActions(tb testing.TB, js jetstream.JetStream, prefix string, n int, interval time.Duration) *Producer {
	tb.Helper()
	msgs := make([]*nats.Msg, n)
	for i := range n {
		msgs[i] = SendAction(tb, fmt.Sprintf("%s-%05d", prefix, i), i)
	}
	return pace(tb, n, interval, func(ctx context.Context, i int) (string, error) {
		return msgs[i].Header.Get(events.MsgIDHeader), retryPublish(ctx, tb, i, func(ctx context.Context) error {
			_, err := js.PublishMsg(ctx, msgs[i])
			return err
		})
	})
}

// Sends counts the send frames the connector recorded, by content (the
// action id, see [SendAction]), and returns the records by content too.
func Sends(dev *devconnector.Server) (map[string]int, map[string][]devconnector.Record) {
	counts := map[string]int{}
	recs := map[string][]devconnector.Record{}
	for _, r := range dev.Outbound() {
		if r.Action.Op != events.OpSend {
			continue
		}
		counts[r.Action.Content]++
		recs[r.Action.Content] = append(recs[r.Action.Content], r)
	}
	return counts, recs
}

// StoredResults reads RELAY_RESULTS and returns every stored SendResult by
// action id.
func StoredResults(tb testing.TB, js jetstream.JetStream) map[string][]events.SendResult {
	tb.Helper()
	out := map[string][]events.SendResult{}
	Scan(tb, js, bus.ResultsStream, events.ResultsSubjectPrefix+">", func(m jetstream.Msg) {
		var r events.SendResult
		if err := events.Unmarshal(m.Data(), m.Headers().Get(events.ContentTypeHeader), &r); err != nil {
			tb.Errorf("stored result on %s does not decode: %v", m.Subject(), err)
			return
		}
		id := m.Headers().Get(events.ActionIDHeader)
		out[id] = append(out[id], r)
	})
	return out
}

// Results records the SendResults an agent sees on relay.results.>, by
// action id. Safe for concurrent use.
type Results struct {
	mu   sync.Mutex
	byID map[string][]events.SendResult
}

// SubscribeResults subscribes to every result on nc until cleanup.
func SubscribeResults(tb testing.TB, nc *nats.Conn) *Results {
	tb.Helper()
	r := &Results{byID: map[string][]events.SendResult{}}
	sub, err := nc.Subscribe(events.ResultsSubjectPrefix+">", func(m *nats.Msg) {
		var res events.SendResult
		if err := events.Unmarshal(m.Data, m.Header.Get(events.ContentTypeHeader), &res); err != nil {
			res = events.SendResult{Error: "undecodable result: " + err.Error()}
		}
		id := m.Header.Get(events.ActionIDHeader)
		r.mu.Lock()
		r.byID[id] = append(r.byID[id], res)
		r.mu.Unlock()
	})
	if err != nil {
		tb.Fatalf("relaytest: subscribing to results: %v", err)
	}
	if err := nc.Flush(); err != nil {
		tb.Fatalf("relaytest: subscribing to results: %v", err)
	}
	tb.Cleanup(func() { _ = sub.Unsubscribe() })
	return r
}

// Get returns the results seen for action id.
func (r *Results) Get(id string) []events.SendResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]events.SendResult(nil), r.byID[id]...)
}

// Len returns how many action ids got at least one result.
func (r *Results) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byID)
}
