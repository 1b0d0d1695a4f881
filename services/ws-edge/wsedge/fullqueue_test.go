package wsedge_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/services/ws-edge/wsedge"
)

// TestFullWorkQueueHoldsAcks: RELAY_RAW is bounded (RELAY_RAW_MAX_BYTES,
// discard new). While it is full, buffered frames are not acked: they
// stay in the connector's buffer instead of being lost. Once the converter
// (here: a consumer) takes stored frames off the queue, the waiting
// frames are stored and acked. Every frame arrives exactly once.
func TestFullWorkQueueHoldsAcks(t *testing.T) {
	h := start(t, func(c *wsedge.Config) { c.Bus.RawMaxBytes = 1 << 20 })
	p := h.handshaken()
	pad := strings.Repeat("x", 100<<10) // ~100 KB per frame: about 10 fit
	const n = 20
	for i := range n {
		p.send(inboundFrame(fmt.Sprintf("b-%02d", i), fmt.Sprintf("%02d %s", i, pad)))
	}
	acked := map[string]bool{}
	collect := func(d time.Duration) {
		deadline := time.After(d)
		for {
			select {
			case m := <-p.frames:
				if m["type"] == "inbound_ack" {
					acked[m["bufferId"].(string)] = true
				}
			case <-deadline:
				return
			}
		}
	}
	collect(3 * time.Second)
	stored, _ := h.readStream(events.RawStream, rawInbound)
	if len(acked) >= n || len(acked) != len(stored) {
		t.Fatalf("queue full: %d frames acked, %d stored of %d; want the acked ones exactly the stored ones, and not all", len(acked), len(stored), n)
	}
	t.Logf("while full: %d of %d frames stored and acked", len(acked), n)

	// The converter catches up: take every stored frame off the queue.
	cons, err := h.js.CreateOrUpdateConsumer(context.Background(), events.RawStream, jetstream.ConsumerConfig{Durable: "drain", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		mu.Lock()
		seen[m.Headers().Get(events.MsgIDHeader)]++
		mu.Unlock()
		_ = m.Ack()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Stop()
	for deadline := time.Now().Add(30 * time.Second); len(acked) < n && time.Now().Before(deadline); {
		collect(500 * time.Millisecond)
	}
	if len(acked) != n {
		t.Fatalf("after the queue drained, %d of %d frames acked", len(acked), n)
	}
	time.Sleep(200 * time.Millisecond)
	cc.Stop()
	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		if id := fmt.Sprintf("b-%02d", i); seen[id] != 1 {
			t.Errorf("frame %s stored %d times, want 1", id, seen[id])
		}
	}
}
