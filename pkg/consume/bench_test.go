package consume_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/pkg/consume"
	"github.com/relaybus/relaybus/pkg/natstest"
)

// BenchmarkKeyedLoop measures the loop's own cost: b.N messages over 1000
// chats, stored first, then consumed with a no-op handler, in order per
// chat (Key), acked one by one.
//
//	go test -run '^$' -bench KeyedLoop -benchtime 20000x ./consume
func BenchmarkKeyedLoop(b *testing.B) {
	ns := natstest.RunServer(b)
	js := natstest.JetStream(b, natstest.Connect(b, ns))
	if _, err := js.CreateStream(b.Context(), jetstream.StreamConfig{Name: stream, Subjects: []string{"work.>"}, Retention: jetstream.WorkQueuePolicy}); err != nil {
		b.Fatal(err)
	}
	fillChats(b, js, func(string) string { return subject })
	consumeAll(b, js, consume.Config{Key: chatOf})
}

// BenchmarkPartitionedLoop is BenchmarkKeyedLoop on a partitioned stream
// (8 partitions, one replica holding all of them).
func BenchmarkPartitionedLoop(b *testing.B) {
	ns := natstest.RunServer(b)
	js := natstest.JetStream(b, natstest.Connect(b, ns))
	// As the bus partitions: the chat picks the partition and is dropped
	// from the stored subject (few subjects keep the server's per-subject
	// state cheap); the chat rides in the data here (a header in relaybus).
	if _, err := js.CreateStream(b.Context(), jetstream.StreamConfig{
		Name: pstream, Subjects: []string{"part.>"}, Retention: jetstream.WorkQueuePolicy,
		SubjectTransform: &jetstream.SubjectTransformConfig{Source: "part.*", Destination: "part.{{partition(8,1)}}"},
	}); err != nil {
		b.Fatal(err)
	}
	fillChats(b, js, func(chat string) string { return "part." + chat })
	cfg := partitionedConfig()
	cfg.PartitionFilter = func(p int) []string { return []string{"part." + strconv.Itoa(p)} }
	cfg.Key = chatOf
	cfg.Workers = 64
	cfg.AckWait, cfg.PullExpiry, cfg.BalanceEvery = 30*time.Second, 2*time.Second, 5*time.Second
	consumeAll(b, js, cfg)
}

// consumeAll runs the loop with cfg and a no-op handler, timed from its
// start, until it has handled b.N messages.
func consumeAll(b *testing.B, js jetstream.JetStream, cfg consume.Config) {
	b.Helper()
	var n atomic.Int64
	done := make(chan struct{})
	b.ResetTimer()
	start(b, js, cfg, func(context.Context, jetstream.Msg) error {
		if n.Add(1) == int64(b.N) {
			close(done)
		}
		return nil
	})
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatalf("handled %d of %d", n.Load(), b.N)
	}
}

// fillChats stores b.N messages "<chat>/<n>" over 1000 chats, on the
// subject subject(chat) returns, asynchronously in bounded rounds.
func fillChats(b *testing.B, js jetstream.JetStream, subject func(chat string) string) {
	b.Helper()
	for i := range b.N {
		chat := "c" + strconv.Itoa(i%1000)
		if _, err := js.PublishAsync(subject(chat), []byte(chat+"/"+strconv.Itoa(i))); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			<-js.PublishAsyncComplete()
		}
	}
	<-js.PublishAsyncComplete()
}
