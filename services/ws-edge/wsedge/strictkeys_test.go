package wsedge_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/wire"
)

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
