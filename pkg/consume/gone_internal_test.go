package consume

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

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
	const stream = "WORK"
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: stream, Subjects: []string{"work.>"}}); err != nil {
		t.Fatal(err)
	}
	newLoop := func(js jetstream.JetStream) *Loop {
		l, err := New(js, Config{Stream: stream, Durable: "gone-test", Log: natstest.Logger(t)},
			func(context.Context, jetstream.Msg) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := newLoop(js)
	if !l.consumerGone(t.Context(), "gone-test") {
		t.Error("consumerGone before the consumer was created = false, want true")
	}
	if _, err := js.CreateOrUpdateConsumer(t.Context(), stream, l.ConsumerConfig()); err != nil {
		t.Fatal(err)
	}
	if l.consumerGone(t.Context(), "gone-test") {
		t.Error("consumerGone with the consumer there = true, want false")
	}

	closed := natstest.Connect(t, ns)
	cl := newLoop(natstest.JetStream(t, closed))
	closed.Close()
	if cl.consumerGone(t.Context(), "gone-test") {
		t.Error("consumerGone on a failed lookup (connection closed) = true, want false")
	}

	if err := js.DeleteStream(t.Context(), stream); err != nil {
		t.Fatal(err)
	}
	if !l.consumerGone(t.Context(), "gone-test") {
		t.Error("consumerGone with the stream deleted = false, want true")
	}
}
