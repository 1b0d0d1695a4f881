package wsedge_test

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/services/ws-edge/wsedge"
)

var requestIDRe = regexp.MustCompile(`^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$`)

const sendAction = `{"op":"send","chat_id":"c1","content":"hi","reply_to":null,"metadata":{}}`

// asyncRequest sends an edge request in the background.
func (h *harness) asyncRequest(subject, body string, hdr nats.Header) <-chan *nats.Msg {
	ch := make(chan *nats.Msg, 1)
	go func() {
		m := nats.NewMsg(subject)
		m.Data = []byte(body)
		for k, v := range hdr {
			m.Header[k] = v
		}
		reply, err := h.nc.RequestMsg(m, 20*time.Second)
		if err != nil {
			h.tb.Errorf("request %s: %v", subject, err)
			close(ch)
			return
		}
		ch <- reply
	}()
	return ch
}

func replyOf(t *testing.T, ch <-chan *nats.Msg, timeout time.Duration) map[string]any {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.FailNow()
		}
		var got map[string]any
		if err := json.Unmarshal(m.Data, &got); err != nil {
			t.Fatalf("reply %q: %v", m.Data, err)
		}
		return got
	case <-time.After(timeout):
		t.Fatalf("no reply within %v", timeout)
		return nil
	}
}

func TestOutboundRoundTrip(t *testing.T) {
	h := start(t, nil)
	p := h.handshaken()
	reply := h.asyncRequest(events.EdgeOutboundSubject, sendAction,
		nats.Header{events.PlatformHeader: {"discord"}, events.BotIDHeader: {"123"}})

	f := p.expect("outbound")
	id, _ := f["requestId"].(string)
	if !requestIDRe.MatchString(id) {
		t.Errorf("requestId %q is not 32 lowercase hex of a uuid4", id)
	}
	var wantAction map[string]any
	_ = json.Unmarshal([]byte(sendAction), &wantAction)
	if diff := cmp.Diff(wantAction, f["action"]); diff != "" {
		t.Errorf("action (-want +got):\n%s", diff)
	}
	if f["platform"] != "discord" || f["botId"] != "123" {
		t.Errorf("outbound routing = (%v, %v), want (discord, 123)", f["platform"], f["botId"])
	}
	p.send(`{"type":"outbound_result","requestId":"` + id + `","result":{"success":true,"message_id":"m-9","extra":[1]}}`)
	got := replyOf(t, reply, 5*time.Second)
	want := map[string]any{"success": true, "message_id": "m-9", "extra": []any{1.0}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reply (-want +got):\n%s", diff)
	}
	// A second result for the same id is ignored and counted.
	p.send(`{"type":"outbound_result","requestId":"` + id + `","result":{"success":false}}`)
	h.waitMetric(1, "relay_wsedge_outbound_unmatched_total")
	h.waitMetric(1, "relay_wsedge_outbound_results_total", "outcome", "success")
}

func TestOutboundPrettyActionIsOneLine(t *testing.T) {
	h := start(t, nil)
	p := h.handshaken()
	reply := h.asyncRequest(events.EdgeOutboundSubject, "{\n  \"op\": \"typing\",\n  \"chat_id\": \"c1\"\n}", nil)
	f := p.expect("outbound")
	if diff := cmp.Diff(map[string]any{"op": "typing", "chat_id": "c1"}, f["action"]); diff != "" {
		t.Errorf("action (-want +got):\n%s", diff)
	}
	p.send(`{"type":"outbound_result","requestId":"` + f["requestId"].(string) + `"}`)
	if got := replyOf(t, reply, 5*time.Second); len(got) != 0 {
		t.Errorf("reply = %v, want {} (a missing result reads as {})", got)
	}
}

// writtenUnanswered starts ws-edge with the given outbound timeout and
// sends it an action that the connector reads and leaves unanswered. It
// returns the connector's end and the pending reply.
func writtenUnanswered(tb testing.TB, timeout time.Duration) (*peer, <-chan *nats.Msg) {
	tb.Helper()
	h := start(tb, func(c *wsedge.Config) { c.OutboundTimeout = timeout })
	p := h.handshaken()
	reply := h.asyncRequest(events.EdgeOutboundSubject, sendAction, nil)
	p.expect("outbound")
	return p, reply
}

func TestOutboundTimeoutIsAmbiguous(t *testing.T) {
	_, reply := writtenUnanswered(t, 300*time.Millisecond)
	got := replyOf(t, reply, 5*time.Second)
	want := map[string]any{"success": false, "error": events.ErrTextTimedOut, "ambiguous": true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reply (-want +got):\n%s", diff)
	}
}

func TestOutboundConnectionLostFailsAtOnce(t *testing.T) {
	p, reply := writtenUnanswered(t, 30*time.Second)
	began := time.Now()
	p.drop()
	got := replyOf(t, reply, 10*time.Second)
	if elapsed := time.Since(began); elapsed > 5*time.Second {
		t.Errorf("connection lost answered after %v, want at once", elapsed)
	}
	// Written, then lost: ambiguous (contract §1), never "not connected".
	want := map[string]any{"success": false, "error": events.ErrTextConnLost, "ambiguous": true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reply (-want +got):\n%s", diff)
	}
}

func TestOutboundNotConnected(t *testing.T) {
	h := start(t, nil)
	h.conn.accept(5 * time.Second) // dialed, but never handshaken
	got := replyOf(t, h.asyncRequest(events.EdgeOutboundSubject, sendAction, nil), 5*time.Second)
	want := map[string]any{"success": false, "error": events.ErrTextNotConnected}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reply (-want +got):\n%s", diff)
	}
}

func TestOutboundBadRequest(t *testing.T) {
	h := start(t, nil)
	h.handshaken()
	for _, body := range []string{"", "[1]", "not json", `{"chat_id":"no op"}`} {
		m := h.request(events.EdgeOutboundSubject, []byte(body), nil, 5*time.Second)
		if code := m.Header.Get("Nats-Service-Error-Code"); code != "400" {
			t.Errorf("request %q: error code %q, want 400", body, code)
		}
	}
}

func TestInterruptWritten(t *testing.T) {
	h := start(t, nil)
	p := h.handshaken()
	reply := h.asyncRequest(events.EdgeOutboundSubject, `{"op":"interrupt","session_key":"agent:main:discord:dm:1","reason":null}`, nil)
	f := p.expect("interrupt")
	want := map[string]any{"type": "interrupt", "session_key": "agent:main:discord:dm:1", "reason": nil}
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("interrupt frame (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"success": true}, replyOf(t, reply, 5*time.Second)); diff != "" {
		t.Errorf("reply (-want +got):\n%s", diff)
	}
}

func TestChatInfoLocal(t *testing.T) {
	h := start(t, nil)
	h.handshaken() // descriptor without get_chat_info
	for _, tt := range []struct {
		name, ct string
		body     []byte
	}{
		{"JSON", events.ContentTypeJSON, []byte(`{"chat_id":"c-7"}`)},
		{"NoContentType", "", []byte(`{"chat_id":"c-7"}`)},
		{"Msgpack", events.ContentTypeMsgpack, mustMsgpack(t, map[string]string{"chat_id": "c-7"})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hdr := nats.Header{}
			if tt.ct != "" {
				hdr.Set(events.ContentTypeHeader, tt.ct)
			}
			m := h.request(events.ChatInfoSubject, tt.body, hdr, 5*time.Second)
			var got map[string]any
			if err := json.Unmarshal(m.Data, &got); err != nil {
				t.Fatalf("reply %q: %v", m.Data, err)
			}
			if diff := cmp.Diff(map[string]any{"name": "c-7", "type": "dm"}, got); diff != "" {
				t.Errorf("reply (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChatInfoRemote(t *testing.T) {
	h := start(t, func(c *wsedge.Config) { c.Platforms = []string{"discord"} })
	p := h.conn.accept(5 * time.Second)
	p.handshake(1, descriptorFrame("discord", "send", "get_chat_info"))
	h.waitReady()
	reply := h.asyncRequest(events.ChatInfoSubject, `{"chat_id":"c-9"}`, nil)
	f := p.expect("outbound")
	if diff := cmp.Diff(map[string]any{"op": "get_chat_info", "chat_id": "c-9"}, f["action"]); diff != "" {
		t.Errorf("action (-want +got):\n%s", diff)
	}
	p.send(`{"type":"outbound_result","requestId":"` + f["requestId"].(string) + `","result":{"success":true,"chat_info":{"name":"General","type":"group"}}}`)
	if diff := cmp.Diff(map[string]any{"name": "General", "type": "group"}, replyOf(t, reply, 5*time.Second)); diff != "" {
		t.Errorf("reply (-want +got):\n%s", diff)
	}
}

func mustMsgpack(t *testing.T, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOutboundInternalMetadataStripped: metadata keys beginning with "_" are
// the gateway's own markers; they are removed before the frame is written,
// on every op (contract §6 "Internal markers").
func TestOutboundInternalMetadataStripped(t *testing.T) {
	h := start(t, func(c *wsedge.Config) {
		c.Platforms = []string{"discord", "telegram"}
		c.BotIDs = `{"discord":{"botId":"d-1"},"telegram":{"botId":"t-1"}}`
	})
	p := h.conn.accept(5 * time.Second)
	p.handshake(2)
	h.waitReady()
	for _, tt := range []struct {
		name, action string
		want         map[string]any
	}{
		{"Send", `{"op":"send","chat_id":"c1","content":"say \"_hi\"","reply_to":null,"metadata":{"_marker":"m","scope_id":"g","_turn":{"n":1}}}`,
			map[string]any{"op": "send", "chat_id": "c1", "content": `say "_hi"`, "reply_to": nil, "metadata": map[string]any{"scope_id": "g"}}},
		{"FollowUp", `{"op":"follow_up","session_key":"agent:main:telegram:dm:5","kind":"k","content":"ok","metadata":{"_reply_marker":true}}`,
			map[string]any{"op": "follow_up", "session_key": "agent:main:telegram:dm:5", "kind": "k", "content": "ok", "metadata": map[string]any{}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// The platform alone is named: ws-edge adds its configured bot.
			reply := h.asyncRequest(events.EdgeOutboundSubject, tt.action, nats.Header{events.PlatformHeader: {"telegram"}})
			f := p.expect("outbound")
			if diff := cmp.Diff(tt.want, f["action"]); diff != "" {
				t.Errorf("written action (-want +got):\n%s", diff)
			}
			if f["platform"] != "telegram" || f["botId"] != "t-1" {
				t.Errorf("identity = (%v, %v), want (telegram, t-1)", f["platform"], f["botId"])
			}
			p.send(`{"type":"outbound_result","requestId":"` + f["requestId"].(string) + `","result":{"success":true}}`)
			replyOf(t, reply, 5*time.Second)
		})
	}
	h.waitMetric(3, "relay_wsedge_internal_metadata_keys_stripped_total")
}

// TestOutboundOneIdentityAddsNoBot: with one identity configured, a request
// naming only a platform goes out as named (contract §6: with one identity
// nothing changes on the wire).
func TestOutboundOneIdentityAddsNoBot(t *testing.T) {
	h := start(t, func(c *wsedge.Config) {
		c.Platforms = []string{"discord"}
		c.BotIDs = `{"discord":{"botId":"d-1"}}`
	})
	p := h.handshaken()
	reply := h.asyncRequest(events.EdgeOutboundSubject, sendAction, nats.Header{events.PlatformHeader: {"discord"}})
	f := p.expect("outbound")
	if f["platform"] != "discord" || f["botId"] != nil {
		t.Errorf("identity = (%v, %v), want (discord, none)", f["platform"], f["botId"])
	}
	p.send(`{"type":"outbound_result","requestId":"` + f["requestId"].(string) + `","result":{"success":true}}`)
	replyOf(t, reply, 5*time.Second)
}

// TestOutboundQueuedWhenSocketDropsIsNotWritten: a connector that stops
// reading stalls ws-edge's writer inside a big frame; an action queued
// behind it when the socket drops was never written, so it is answered
// "not connected" (safe to retry), while the frame whose write had begun is
// answered "connection lost", ambiguous (contract §1).
func TestOutboundQueuedWhenSocketDropsIsNotWritten(t *testing.T) {
	h := start(t, func(c *wsedge.Config) { c.OutboundTimeout = 30 * time.Second })
	h.conn.unread.Store(true)
	p := h.conn.accept(5 * time.Second)
	if _, _, err := p.ws.ReadMessage(); err != nil { // the hello
		t.Fatal(err)
	}
	p.send(descriptorFrame("relay"))
	h.waitReady()

	// Big sends fill the socket's buffers: once the connector has seen the
	// first bytes of one, the writer has begun it and blocks inside it.
	big := `{"op":"send","chat_id":"c1","content":"` + strings.Repeat("x", 6<<20) + `","reply_to":null,"metadata":{}}`
	var bigReplies []<-chan *nats.Msg
	for range 2 {
		bigReplies = append(bigReplies, h.asyncRequest(events.EdgeOutboundSubject, big, nil))
	}
	_, r, err := p.ws.NextReader()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(r, make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	queued := h.asyncRequest(events.EdgeOutboundSubject, sendAction, nil)
	// The second big send and the small action wait in the writer's queue
	// behind the blocked write.
	natstest.WaitFor(t, 10*time.Second, func() error {
		if n := h.metric("relay_wsedge_socket_queue_length"); n < 2 {
			return fmt.Errorf("socket queue length %v, want 2", n)
		}
		return nil
	})
	p.drop()

	if got := replyOf(t, queued, 10*time.Second); got["error"] != events.ErrTextNotConnected || got["ambiguous"] != nil {
		t.Errorf("queued action answered %v, want not connected (never written)", got)
	}
	lost := 0
	for _, r := range bigReplies {
		got := replyOf(t, r, 10*time.Second)
		t.Logf("big send answered %v", got)
		switch {
		case got["error"] == events.ErrTextConnLost && got["ambiguous"] == true:
			lost++
		case got["error"] == events.ErrTextNotConnected && got["ambiguous"] == nil:
		default:
			t.Errorf("big send answered %v, want connection lost (ambiguous) or not connected", got)
		}
	}
	if lost == 0 {
		t.Error("no big send was answered connection lost: the writer never began one, so the test did not stall it")
	}
}
