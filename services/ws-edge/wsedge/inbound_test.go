package wsedge_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/pkg/wire"
	"github.com/relaybus/relaybus/services/ws-edge/wsedge"
)

func TestFrameSplitAcrossMessages(t *testing.T) {
	h := start(t, nil)
	p := h.handshaken()
	frame := inboundFrame("b-1", "split")
	half := len(frame) / 2
	p.sendRaw(websocket.TextMessage, []byte(frame[:half]))
	p.sendRaw(websocket.TextMessage, []byte(frame[half:]+"\n"))

	msgs := h.streamMsgs(events.RawStream, rawInbound, 1)
	if got := string(msgs[0].Data); got != frame {
		t.Errorf("stored %q, want the exact frame %q", got, frame)
	}
	if ack := p.expect("inbound_ack"); ack["bufferId"] != "b-1" {
		t.Errorf("ack = %v, want bufferId b-1", ack)
	}
}

func TestThreeFramesInOneMessage(t *testing.T) {
	h := start(t, nil)
	p := h.handshaken()
	frames := []string{inboundFrame("b-1", "one"), inboundFrame("b-2", "two"), inboundFrame("b-3", "three")}
	p.send(frames...)

	msgs := h.streamMsgs(events.RawStream, rawInbound, 3)
	var got []string
	for _, m := range msgs {
		got = append(got, string(m.Data))
	}
	if diff := cmp.Diff(frames, got); diff != "" {
		t.Errorf("stream (-want +got):\n%s", diff)
	}
	var acks []any
	for range 3 {
		acks = append(acks, p.expect("inbound_ack")["bufferId"])
	}
	if diff := cmp.Diff([]any{"b-1", "b-2", "b-3"}, acks); diff != "" {
		t.Errorf("acks (-want +got):\n%s", diff)
	}
}

func TestGarbageThenValidFrame(t *testing.T) {
	h := start(t, nil)
	p := h.handshaken()
	p.send("this is not json", inboundFrame("b-1", "valid"))

	msgs := h.streamMsgs(events.RawStream, rawInbound, 1)
	if !strings.Contains(string(msgs[0].Data), `"valid"`) {
		t.Errorf("stored %q, want the valid frame", msgs[0].Data)
	}
	dl := h.streamMsgs(events.DLQStream, "relay.dlq.ws-edge", 1)[0]
	if got := string(dl.Data); got != "this is not json" {
		t.Errorf("dead letter data = %q, want the garbage", got)
	}
	for k, want := range map[string]string{
		events.ErrorCodeHeader: events.ReasonNotJSON,
		events.StageHeader:     events.StageWSEdge,
		events.EdgeHeader:      "edge-test",
	} {
		if got := dl.Header.Get(k); got != want {
			t.Errorf("dead letter header %s = %q, want %q", k, got, want)
		}
	}
	if dl.Header.Get(events.ErrorHeader) == "" {
		t.Errorf("dead letter has no %s header", events.ErrorHeader)
	}
	h.waitMetric(1, "relay_wsedge_bad_frames_total", "reason", events.ReasonNotJSON)
}

func TestBadFramesAreDeadLetteredByReason(t *testing.T) {
	tests := []struct {
		name, frame, reason string
		ack                 string // bufferId acked after the dead letter, if any
	}{
		{"NotObject", `[1,2,3]`, events.ReasonNotObject, ""},
		{"MissingType", `{"bufferId":"b-x","event":{}}`, events.ReasonMissingType, ""},
		{"NullEvent", `{"type":"inbound","bufferId":"b-n","event":null}`, events.ReasonNullField, "b-n"},
		{"NullForward", `{"type":"passthrough_forward","forward":null}`, events.ReasonNullField, ""},
		{"WrongTypeBufferID", `{"type":"inbound","bufferId":7,"event":{}}`, events.ReasonWrongType, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, nil)
			p := h.handshaken()
			p.send(tt.frame, inboundFrame("", "after"))
			h.streamMsgs(events.RawStream, rawInbound, 1)
			dl := h.streamMsgs(events.DLQStream, "", 1)[0]
			if got := dl.Header.Get(events.ErrorCodeHeader); got != tt.reason {
				t.Errorf("Relay-Error-Code = %q, want %q", got, tt.reason)
			}
			if string(dl.Data) != tt.frame {
				t.Errorf("dead letter data = %q, want %q", dl.Data, tt.frame)
			}
			if tt.ack != "" {
				if ack := p.expect("inbound_ack"); ack["bufferId"] != tt.ack {
					t.Errorf("ack = %v, want bufferId %s", ack, tt.ack)
				}
				if got := dl.Header.Get(events.MsgIDHeader); got != "dlq:ws-edge:"+tt.ack {
					t.Errorf("dead letter Nats-Msg-Id = %q, want dlq:ws-edge:%s", got, tt.ack)
				}
			}
			h.waitMetric(1, "relay_wsedge_bad_frames_total", "reason", tt.reason)
		})
	}
}

// TestCaseVariantKeysAreRejected reproduces issue #14's ambiguous frames:
// encoding/json matches keys case-insensitively, so for
// {"type":"inbound","Type":"descriptor"} the descriptor won, and for
// "bufferId":"a","BufferID":"b" ws-edge acked b. Both are now dead-lettered
// as ambiguous_key; the exact-case bufferId is the one acked, the
// descriptor is not stored, and a valid frame after them arrives.
func TestCaseVariantKeysAreRejected(t *testing.T) {
	h := start(t, nil)
	p := h.handshaken()
	p.send(
		`{"type":"inbound","Type":"descriptor","bufferId":"v-1","event":{"text":"x"},"descriptor":`+descriptorJSON("evil")+`}`,
		`{"type":"inbound","bufferId":"a","BufferID":"b","event":{"text":"x"}}`,
		inboundFrame("b-after", "after"),
	)
	acked := map[any]bool{}
	for range 3 {
		acked[p.expect("inbound_ack")["bufferId"]] = true
	}
	if !acked["v-1"] || !acked["a"] || !acked["b-after"] || acked["b"] {
		t.Errorf("acked %v, want v-1, a and b-after (never b)", acked)
	}
	raw := h.streamMsgs(events.RawStream, "", 1)
	if id := raw[0].Header.Get(events.MsgIDHeader); id != "b-after" {
		t.Errorf("stored %q, want only b-after", id)
	}
	for _, dl := range h.streamMsgs(events.DLQStream, "", 2) {
		if got := dl.Header.Get(events.ErrorCodeHeader); got != events.ReasonAmbiguousKey {
			t.Errorf("Relay-Error-Code = %q, want %s", got, events.ReasonAmbiguousKey)
		}
		if got, want := dl.Header.Get(events.SubjectHeader), events.RawSubject(wire.FrameInbound); !strings.HasPrefix(got, want) {
			t.Errorf("Relay-Subject = %q, want %s… (the exact-case type)", got, want)
		}
	}
	kv, err := h.js.KeyValue(context.Background(), events.DescriptorBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(context.Background(), events.DescriptorKey("evil")); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("descriptor of the ambiguous frame: err = %v, want not stored", err)
	}
	h.waitMetric(2, "relay_wsedge_bad_frames_total", "reason", events.ReasonAmbiguousKey)
}

func TestBufferedFrameAckedOnlyOnceStored(t *testing.T) {
	h := start(t, nil)
	p := h.handshaken()
	frame := `{"type":"passthrough_forward","bufferId":"b-42","forward":{"platform":"discord","bodyB64":"e30="}}`
	p.send(frame)
	ack := p.expect("inbound_ack")
	// The ack is out: the message must already be in the stream.
	msgs, err := h.readStream(events.RawStream, events.RawSubject(wire.FramePassthroughForward)+".>")
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || ack["bufferId"] != "b-42" {
		t.Fatalf("at the ack (%v) the stream held %d messages, want 1", ack, len(msgs))
	}
	m := msgs[0]
	if string(m.Data) != frame {
		t.Errorf("stored %q, want %q", m.Data, frame)
	}
	for k, want := range map[string]string{
		events.MsgIDHeader:    "b-42",
		events.BufferIDHeader: "b-42",
		events.EdgeHeader:     "edge-test",
	} {
		if got := m.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if _, err := time.Parse(time.RFC3339Nano, m.Header.Get(events.ReceivedAtHeader)); err != nil {
		t.Errorf("Relay-Received-At %q: %v", m.Header.Get(events.ReceivedAtHeader), err)
	}
}

func TestUnbufferedFrameIsNotAcked(t *testing.T) {
	h := start(t, nil)
	p := h.handshaken()
	p.send(inboundFrame("", "no buffer"), inboundFrame("b-2", "buffered"))
	h.streamMsgs(events.RawStream, rawInbound, 2)
	if ack := p.expect("inbound_ack"); ack["bufferId"] != "b-2" {
		t.Errorf("first ack = %v, want only b-2's", ack)
	}
	msgs, _ := h.readStream(events.RawStream, rawInbound)
	if id := msgs[0].Header.Get(events.MsgIDHeader); id != "" {
		t.Errorf("unbuffered frame has Nats-Msg-Id %q, want none", id)
	}
}

func TestReplayAfterReconnectIsDeduplicated(t *testing.T) {
	h := start(t, nil)
	p1 := h.handshaken()
	frame := inboundFrame("b-7", "replayed")
	p1.send(frame)
	p1.expect("inbound_ack")
	p1.drop()

	p2 := h.conn.accept(5 * time.Second)
	p2.handshake(1)
	p2.send(frame) // the connector replays what it thinks may be un-acked
	if ack := p2.expect("inbound_ack"); ack["bufferId"] != "b-7" {
		t.Errorf("replay ack = %v, want b-7", ack)
	}
	h.streamMsgs(events.RawStream, rawInbound, 1)
	// Found in the ack log loaded before the redial: not published again
	// (the stream's window would have absorbed it too).
	h.waitMetric(1, "relay_wsedge_replays_absorbed_total")
	if got := p1.acks.Load() + p2.acks.Load(); got != 2 {
		t.Errorf("acks = %d, want 2", got)
	}
}

func TestUnknownTypeIsPublishedRaw(t *testing.T) {
	h := start(t, nil)
	p := h.handshaken()
	frame := `{"type":"brand_new.thing","bufferId":"b-u","x":1}`
	p.send(frame)
	msgs := h.streamMsgs(events.RawStream, events.RawSubject("brand_new.thing")+".>", 1)
	if string(msgs[0].Data) != frame {
		t.Errorf("stored %q, want %q", msgs[0].Data, frame)
	}
	p.expect("inbound_ack")
	h.waitMetric(1, "relay_wsedge_frames_total", "type", "other")
}

func TestControlFramesAreNotPublished(t *testing.T) {
	h := start(t, nil)
	p := h.handshaken()
	p.send(
		descriptorFrame("discord"),
		`{"type":"outbound_result","requestId":"nobody","result":{}}`,
		`{"type":"going_idle_ack"}`,
		inboundFrame("", "marker"),
	)
	h.streamMsgs(events.RawStream, "", 1)
	h.waitMetric(1, "relay_wsedge_outbound_unmatched_total")
}

func TestBinaryMessageAccepted(t *testing.T) {
	h := start(t, nil)
	p := h.handshaken()
	frame := inboundFrame("b-bin", "héllo")
	p.sendRaw(websocket.BinaryMessage, []byte(frame+"\n"))
	msgs := h.streamMsgs(events.RawStream, rawInbound, 1)
	if string(msgs[0].Data) != frame {
		t.Errorf("stored %q, want %q", msgs[0].Data, frame)
	}
	p.expect("inbound_ack")
}

func TestOversizedFrameDeadLettered(t *testing.T) {
	h := start(t, func(c *wsedge.Config) { c.MaxFrameBytes = 1024 })
	p := h.handshaken()
	big := inboundFrame("b-big", strings.Repeat("x", 8000))
	next := inboundFrame("b-next", "after the big one")
	// The big frame spans messages, like a real oversized frame would.
	p.sendRaw(websocket.TextMessage, []byte(big[:3000]))
	p.sendRaw(websocket.TextMessage, []byte(big[3000:]+"\n"+next+"\n"))

	msgs := h.streamMsgs(events.RawStream, rawInbound, 1)
	if string(msgs[0].Data) != next {
		t.Errorf("stored %q, want the frame after the oversized one", msgs[0].Data)
	}
	dl := h.streamMsgs(events.DLQStream, "", 1)[0]
	if got := dl.Header.Get(events.ErrorCodeHeader); got != events.ReasonOversized {
		t.Errorf("Relay-Error-Code = %q, want %q", got, events.ReasonOversized)
	}
	if len(dl.Data) == 0 || len(dl.Data) >= len(big) || !strings.HasPrefix(big, string(dl.Data)) {
		t.Errorf("dead letter holds %d bytes, want a truncated prefix of the %d byte frame", len(dl.Data), len(big))
	}
	// Its bufferId was readable in the prefix: acked, so never replayed.
	got := []any{p.expect("inbound_ack")["bufferId"], p.expect("inbound_ack")["bufferId"]}
	if diff := cmp.Diff([]any{"b-next", "b-big"}, got, cmpSorted); diff != "" {
		t.Errorf("acks (-want +got):\n%s", diff)
	}
	h.waitMetric(1, "relay_wsedge_bad_frames_total", "reason", events.ReasonOversized)
}

func TestBlankLinesSkipped(t *testing.T) {
	h := start(t, nil)
	p := h.handshaken()
	p.sendRaw(websocket.TextMessage, []byte("\n  \n\r\n"+inboundFrame("", "x")+"\n\n"))
	h.streamMsgs(events.RawStream, rawInbound, 1)
	if got := h.metric("relay_wsedge_bad_frames_total"); got != 0 {
		t.Errorf("bad frames = %v, want 0", got)
	}
}

func TestPublishFailureIsNotAcked(t *testing.T) {
	h := start(t, func(c *wsedge.Config) { c.PublishTimeout = 500 * time.Millisecond })
	p := h.handshaken()
	if err := h.js.DeleteStream(context.Background(), events.RawStream); err != nil {
		t.Fatal(err)
	}
	p.send(inboundFrame("b-lost", "nowhere to go"))
	h.waitMetric(1, "relay_wsedge_publish_failures_total")
	// Nothing was stored, so nothing may have been acked.
	select {
	case f := <-p.frames:
		t.Fatalf("frame %v while b-lost could not be stored, want no ack", f)
	default:
	}
	// Once the stream is back, the retried b-lost and a new frame are both
	// stored and acked (in either order: the retry races the new frame),
	// and each ack follows its frame's storage.
	if _, err := h.js.CreateStream(context.Background(), wsedge.DefaultConfig().Bus.Streams()[0]); err != nil {
		t.Fatal(err)
	}
	p.send(inboundFrame("b-ok", "stored"))
	acked := map[any]bool{}
	for range 2 {
		ack := p.expect("inbound_ack")
		acked[ack["bufferId"]] = true
		stored, err := h.readStream(events.RawStream, "")
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, m := range stored {
			found = found || m.Header.Get(events.MsgIDHeader) == ack["bufferId"]
		}
		if !found {
			t.Errorf("ack for %v before it was stored", ack["bufferId"])
		}
	}
	if !acked["b-ok"] || !acked["b-lost"] {
		t.Errorf("acked %v, want b-ok and b-lost", acked)
	}
}

func TestDescriptorStoredInKV(t *testing.T) {
	h := start(t, func(c *wsedge.Config) { c.Platforms = []string{"discord", "telegram"} })
	p := h.conn.accept(5 * time.Second)
	d1, d2 := descriptorJSON("discord", "send", "get_chat_info"), descriptorJSON("telegram")
	p.handshake(2, `{"type":"descriptor","descriptor":`+d1+`}`, `{"type":"descriptor","descriptor":`+d2+`}`)
	h.waitReady()
	kv, err := h.js.KeyValue(context.Background(), events.DescriptorBucket)
	if err != nil {
		t.Fatal(err)
	}
	for platform, want := range map[string]string{"discord": d1, "telegram": d2} {
		natstest.WaitFor(t, 5*time.Second, func() error {
			e, err := kv.Get(context.Background(), events.DescriptorKey(platform))
			if err != nil {
				return err
			}
			if string(e.Value()) != want {
				t.Fatalf("KV %s = %s, want %s", platform, e.Value(), want)
			}
			return nil
		})
	}
}

var cmpSorted = cmp.Transformer("sort", func(in []any) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i], _ = v.(string)
	}
	slices.Sort(out)
	return out
})

// TestRawSubjectNamesTheChat: a data frame is published on
// relay.raw.<type>.<chat key> with the chat in Relay-Chat; RELAY_RAW's
// subject transform stores it under its chat's partition
// (relay.raw.<type>.<partition>), the same for every frame of one chat.
// The frame bytes are untouched.
func TestRawSubjectNamesTheChat(t *testing.T) {
	h := start(t, nil)
	p := h.handshaken()
	frames := []string{inboundFrame("b-1", "one"), inboundFrame("b-2", "two")}
	p.send(frames...)
	msgs := h.streamMsgs(events.RawStream, rawInbound, 2)
	chat := events.SubjectToken("discord:c1")
	for i, m := range msgs {
		if tok := strings.Split(m.Subject, "."); len(tok) != 4 {
			t.Errorf("stored under %q, want relay.raw.inbound.<partition>", m.Subject)
		}
		if got := m.Header.Get(events.ChatHeader); got != chat {
			t.Errorf("Relay-Chat = %q, want %q", got, chat)
		}
		if string(m.Data) != frames[i] {
			t.Errorf("stored %q, want the exact frame", m.Data)
		}
	}
	if msgs[0].Subject != msgs[1].Subject {
		t.Errorf("one chat in two partitions: %q and %q", msgs[0].Subject, msgs[1].Subject)
	}
}
