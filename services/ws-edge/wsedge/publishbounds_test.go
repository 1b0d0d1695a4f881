package wsedge_test

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/pkg/wire"
	"github.com/relaybus/relaybus/services/ws-edge/wsedge"
)

func maxPayload(n int32) natstest.Option { return func(o *server.Options) { o.MaxPayload = n } }

// longestLine is the length of the longest line in b.
func longestLine(b []byte) int {
	n := 0
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		n = max(n, len(line))
	}
	return n
}

// acks reads n inbound_acks and returns them by bufferId. It waits longer
// than peer.expect: a multi-megabyte frame and its ack take a while under
// the race detector on a busy machine.
func acks(p *peer, n int) map[string]bool {
	p.tb.Helper()
	got := map[string]bool{}
	for range n {
		f := p.next(30 * time.Second)
		if f["type"] != "inbound_ack" {
			p.tb.Fatalf("connector: got frame type %v, want inbound_ack", f["type"])
		}
		got[f["bufferId"].(string)] = true
	}
	return got
}

// TestHugeBufferIDIsDeadLetteredNotRetried reproduces issue #14's jam: a
// bufferId copied into two headers made a publish the server refused
// ("maximum payload exceeded"), retried forever by the one retry goroutine
// every later failure waited behind, with a 3 MB log line and a 21 s
// SIGTERM. Now the id is over wire.MaxBufferIDLen: dead-lettered with its
// header clipped, not acked (it stays in the connector's buffer, where its
// operators see it; issue #14), logged clipped, and the frames after it
// flow.
func TestHugeBufferIDIsDeadLetteredNotRetried(t *testing.T) {
	tests := []struct {
		name       string
		idLen      int
		maxPayload int32
	}{
		{"3MBAt8MBMaxPayload", 3 << 20, 8 << 20},
		{"340KBAtStock1MBMaxPayload", 340 << 10, 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, logs := startServerOpts(t, []natstest.Option{maxPayload(tt.maxPayload)}, nil)
			p := h.handshaken()
			huge := strings.Repeat("i", tt.idLen)
			p.send(inboundFrame(huge, "huge id"), inboundFrame("b-after", "after"))

			got := acks(p, 1)
			if got[huge] || !got["b-after"] {
				t.Errorf("acks = %d ids (huge id acked: %v), want b-after only", len(got), got[huge])
			}
			raw := h.streamMsgs(events.RawStream, rawInbound, 1)
			if id := raw[0].Header.Get(events.MsgIDHeader); id != "b-after" {
				t.Errorf("stored %q, want b-after only", id)
			}
			dl := h.streamMsgs(events.DLQStream, "", 1)[0]
			if got := dl.Header.Get(events.ErrorCodeHeader); got != events.ReasonOversized {
				t.Errorf("Relay-Error-Code = %q, want %s", got, events.ReasonOversized)
			}
			hdrBytes := 0
			for k, vs := range dl.Header {
				for _, v := range vs {
					hdrBytes += len(k) + len(v)
				}
			}
			if hdrBytes > 4096 {
				t.Errorf("dead-letter headers hold %d bytes, want the id clipped", hdrBytes)
			}
			if id := dl.Header.Get(events.MsgIDHeader); !strings.HasPrefix(id, "dlq:ws-edge:sha256:") {
				t.Errorf("dead letter Nats-Msg-Id = %.80q, want the id's hash", id)
			}
			if string(dl.Data) != inboundFrame(huge, "huge id") {
				t.Errorf("dead letter holds %d bytes, want the frame", len(dl.Data))
			}
			h.waitMetric(1, "relay_wsedge_bad_frames_total", "reason", events.ReasonOversized)
			if n := h.metric("relay_wsedge_publish_failures_total"); n != 0 {
				t.Errorf("publish failures = %v, want 0", n)
			}
			if n := longestLine(logs.Bytes()); n > 4096 {
				t.Errorf("longest log line = %d bytes", n)
			}
			begin := time.Now()
			if err := h.stop(); err != nil {
				t.Errorf("Run = %v", err)
			}
			if d := time.Since(begin); d > 3*time.Second {
				t.Errorf("shutdown took %v", d)
			}
			t.Logf("shutdown took %v", time.Since(begin))
		})
	}
}

// TestBufferIDAtTheLimitIsPublished: an id of exactly wire.MaxBufferIDLen
// bytes is a normal buffered frame.
func TestBufferIDAtTheLimitIsPublished(t *testing.T) {
	h := start(t, nil)
	p := h.handshaken()
	id := strings.Repeat("j", wire.MaxBufferIDLen)
	p.send(inboundFrame(id, "at the limit"))
	if got := p.expect("inbound_ack")["bufferId"]; got != id {
		t.Errorf("ack = %.40v…, want the id", got)
	}
	h.streamMsgs(events.RawStream, rawInbound, 1)
}

// TestMaxPayloadIsPermanent: a frame the server refuses as larger than
// its max payload (here: the server restarted with a smaller one while the
// socket was up) is dead-lettered, cut to fit, and acked; it is not retried
// and does not hold up the frames after it.
func TestMaxPayloadIsPermanent(t *testing.T) {
	dir := t.TempDir()
	h, logs := startServerOpts(t, []natstest.Option{natstest.WithStoreDir(dir)}, nil)
	p := h.handshaken()
	h.ns = natstest.Restart(t, h.ns, dir, maxPayload(64<<10))
	natstest.WaitFor(t, 10*time.Second, func() error {
		if _, err := h.js.Stream(context.Background(), events.RawStream); err != nil {
			return err
		}
		return h.svc.Ready(context.Background())
	})
	big := inboundFrame("b-big", strings.Repeat("x", 200<<10))
	p.send(big, inboundFrame("b-after", "after"))
	got := acks(p, 2)
	if !got["b-big"] || !got["b-after"] {
		t.Errorf("acks = %v, want b-big and b-after", got)
	}
	h.streamMsgs(events.RawStream, rawInbound, 1)
	dl := h.streamMsgs(events.DLQStream, "", 1)[0]
	if got := dl.Header.Get(events.ErrorCodeHeader); got != events.ReasonOversized {
		t.Errorf("Relay-Error-Code = %q, want %s", got, events.ReasonOversized)
	}
	if len(dl.Data) == 0 || len(dl.Data) > 64<<10 || !strings.HasPrefix(big, string(dl.Data)) {
		t.Errorf("dead letter holds %d bytes, want a prefix that fits", len(dl.Data))
	}
	if !strings.Contains(dl.Header.Get(events.RedactedHeader), "payload cut") {
		t.Errorf("Relay-Redacted = %q, want the cut noted", dl.Header.Get(events.RedactedHeader))
	}
	if n := h.metric("relay_wsedge_publish_failures_total"); n != 1 {
		t.Errorf("publish failures = %v, want 1 (no retry)", n)
	}
	if n := longestLine(logs.Bytes()); n > 4096 {
		t.Errorf("longest log line = %d bytes", n)
	}
}

// TestRetriesAreIndependent: a frame whose publish keeps failing does not
// hold up the retries of another chat's frame (frames of one chat wait for
// each other: TestChatOrderSurvivesFailedPublishes). Both fail while
// RELAY_RAW is gone; the
// stream comes back refusing the first (over its max message size), and
// the second is stored and acked all the same. Shutdown is bounded by the
// shutdown timeout with the first still retrying.
func TestRetriesAreIndependent(t *testing.T) {
	h, _ := startServerOpts(t, nil, func(c *wsedge.Config) {
		c.PublishTimeout = 500 * time.Millisecond
		c.ShutdownTimeout = time.Second
	})
	p := h.handshaken()
	if err := h.js.DeleteStream(context.Background(), events.RawStream); err != nil {
		t.Fatal(err)
	}
	other := strings.Replace(inboundFrame("b-small", "small"), `"chat_id":"c1"`, `"chat_id":"c2"`, 1)
	p.send(inboundFrame("b-stuck", strings.Repeat("x", 32<<10)), other)
	h.waitMetric(2, "relay_wsedge_publish_failures_total")
	cfg := wsedge.DefaultConfig().Bus.Streams()[0]
	cfg.MaxMsgSize = 8 << 10
	if _, err := h.js.CreateStream(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if got := p.expect("inbound_ack")["bufferId"]; got != "b-small" {
		t.Errorf("ack = %v, want b-small", got)
	}
	select {
	case f := <-p.frames:
		t.Errorf("frame %v, want no ack for b-stuck", f)
	case <-time.After(300 * time.Millisecond):
	}
	begin := time.Now()
	if err := h.stop(); err != nil {
		t.Errorf("Run = %v", err)
	}
	if d := time.Since(begin); d > 5*time.Second { // going_idle (2 s, unanswered) + two waits of ShutdownTimeout
		t.Errorf("shutdown with a frame still retrying took %v", d)
	}
	t.Logf("shutdown with a frame still retrying took %v", time.Since(begin))
}

// TestChatOrderSurvivesFailedPublishes: while RELAY_RAW is gone every
// publish fails and is retried; when it is back, each chat's frames are
// stored in the order they were read (one publish per chat at a time), and
// all are acked once. Independent retries with their jittered pauses used
// to store them in any order (a stream leader lost mid-stream did the same
// in a cluster: tests/compose).
func TestChatOrderSurvivesFailedPublishes(t *testing.T) {
	h, _ := startServerOpts(t, nil, func(c *wsedge.Config) { c.PublishTimeout = 300 * time.Millisecond })
	p := h.handshaken()
	if err := h.js.DeleteStream(context.Background(), events.RawStream); err != nil {
		t.Fatal(err)
	}
	const n = 20
	var frames []string
	for i := range n {
		for _, chat := range []string{"c1", "c2"} {
			f := strings.Replace(inboundFrame(fmt.Sprintf("%s-%02d", chat, i), fmt.Sprintf("%s %02d", chat, i)), `"chat_id":"c1"`, `"chat_id":"`+chat+`"`, 1)
			frames = append(frames, f)
		}
	}
	p.send(frames...)
	natstest.WaitFor(t, 10*time.Second, func() error {
		if n := h.metric("relay_wsedge_publish_failures_total"); n < 2 {
			return fmt.Errorf("%v publishes failed, want 2 or more", n)
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond) // retries pile up
	if _, err := h.js.CreateStream(context.Background(), wsedge.DefaultConfig().Bus.Streams()[0]); err != nil {
		t.Fatal(err)
	}
	acked := acks(p, 2*n)
	if len(acked) != 2*n {
		t.Errorf("%d frames acked, want %d", len(acked), 2*n)
	}
	stored := h.streamMsgs(events.RawStream, rawInbound, 2*n)
	last := map[string]int{}
	for _, m := range stored {
		id := m.Header.Get(events.MsgIDHeader)
		chat, num, _ := strings.Cut(id, "-")
		i, _ := strconv.Atoi(num)
		if prev, ok := last[chat]; ok && i != prev+1 {
			t.Errorf("chat %s: frame %d stored after %d", chat, i, prev)
		}
		last[chat] = i
	}
}
