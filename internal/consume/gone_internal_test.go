package consume

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
)

// TestConsumerGoneOnlyWhenTheServerSaysSo: a missed heartbeat re-creates
// the consumer only when the lookup answers "consumer (or stream) not
// found"; a lookup that fails otherwise (here: a closed connection) is no
// proof, and the pull is kept.
func TestConsumerGoneOnlyWhenTheServerSaysSo(t *testing.T) {
	ns := natstest.RunServer(t)
	nc := natstest.Connect(t, ns)
	js := natstest.JetStream(t, nc)
	if err := bus.Ensure(t.Context(), js, bus.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	newLoop := func(js jetstream.JetStream) *Loop {
		l, err := New(js, Config{Stream: events.RawStream, Durable: "gone-test", Stage: "test", Log: natstest.Logger(t)},
			func(context.Context, jetstream.Msg) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := newLoop(js)
	if !l.consumerGone(t.Context()) {
		t.Error("consumerGone before the consumer was created = false, want true")
	}
	if _, err := js.CreateOrUpdateConsumer(t.Context(), events.RawStream, l.ConsumerConfig()); err != nil {
		t.Fatal(err)
	}
	if l.consumerGone(t.Context()) {
		t.Error("consumerGone with the consumer there = true, want false")
	}

	closed := natstest.Connect(t, ns)
	cl := newLoop(natstest.JetStream(t, closed))
	closed.Close()
	if cl.consumerGone(t.Context()) {
		t.Error("consumerGone on a failed lookup (connection closed) = true, want false")
	}

	if err := js.DeleteStream(t.Context(), events.RawStream); err != nil {
		t.Fatal(err)
	}
	if !l.consumerGone(t.Context()) {
		t.Error("consumerGone with the stream deleted = false, want true")
	}
}
