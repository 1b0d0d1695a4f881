package consume_test

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/consume"
	"github.com/relaybus/relaybus/internal/natsconn"
	"github.com/relaybus/relaybus/pkg/natstest"
)

// BenchmarkResumeAfterRestart measures how long a stage's consumer takes
// to resume after a NATS server restart (docs/architecture.md: within
// 5 s): from the restarted server accepting clients to the loop handling a
// message published after the restart. The stage's connection uses the production
// options (natsconn.Options) and the loop its default heartbeat, as in the
// services. Each iteration restarts the server once.
//
//	go test -run '^$' -bench ResumeAfterRestart -benchtime 5x ./consume
func BenchmarkResumeAfterRestart(b *testing.B) {
	dir := b.TempDir()
	ns := natstest.RunServer(b, natstest.WithStoreDir(dir))
	nc, err := nats.Connect(ns.ClientURL(), natsconn.Options("bench-stage", slog.New(slog.DiscardHandler))...)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js := natstest.JetStream(b, nc)
	ensure := func(ctx context.Context) error { return bus.Ensure(ctx, js, bus.DefaultConfig()) }
	if err := ensure(b.Context()); err != nil {
		b.Fatal(err)
	}
	got := make(chan string, 16)
	l, _ := start(b, js, consume.Config{Ensure: ensure}, func(_ context.Context, m jetstream.Msg) error {
		got <- string(m.Data())
		return nil
	})
	natstest.WaitFor(b, 10*time.Second, l.Ready)

	var total, worst time.Duration
	b.ResetTimer()
	for i := range b.N {
		ns = natstest.Restart(b, ns, dir)
		up := time.Now()
		// A fresh publisher, so its own reconnect is not part of the figure.
		pub := natstest.JetStream(b, natstest.Connect(b, ns))
		want := "after-restart-" + strconv.Itoa(i)
		natstest.WaitFor(b, 30*time.Second, func() error {
			_, err := pub.Publish(b.Context(), "relay.raw.bench", []byte(want))
			return err
		})
		deadline := time.After(60 * time.Second)
	wait:
		for {
			select {
			case s := <-got:
				if s == want {
					break wait
				}
			case <-deadline:
				b.Fatalf("restart %d: the consumer did not resume within 60s", i)
			}
		}
		d := time.Since(up)
		total += d
		worst = max(worst, d)
		b.Logf("restart %d: resumed %v after the server was back", i, d.Round(time.Millisecond))
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/resume")
	b.ReportMetric(worst.Seconds(), "worst-s")
	b.ReportMetric(0, "ns/op")
}
