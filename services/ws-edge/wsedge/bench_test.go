package wsedge_test

import (
	"context"
	"encoding/base64"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/fixtures"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/pkg/wire"
	"github.com/relaybus/relaybus/services/ws-edge/wsedge"
)

// benchWindow is the publish window of both benchmarks.
const benchWindow = 1024

// framesPerMessage is how many frames the benchmark connector coalesces into
// one WebSocket message, as a busy connector's writer does.
const framesPerMessage = 64

// ceilingRate is the last BenchmarkJetStreamCeiling result (frames/s), so
// that BenchmarkInbound, which runs after it, can report the ratio.
var ceilingRate float64

// passthroughFrame returns a passthrough_forward frame carrying the Discord
// slash command fixture, split around its bufferId: prefix + id + suffix.
func passthroughFrame(tb testing.TB) (prefix, suffix string) {
	tb.Helper()
	body, err := fixtures.ReadDiscord("02_slash_command_options.json")
	if err != nil {
		tb.Fatal(err)
	}
	prefix = `{"type":"passthrough_forward","bufferId":"`
	suffix = `","forward":{"platform":"discord","botId":"786008729715212338","method":"POST",` +
		`"path":"/interactions/discord/786008729715212338","headers":[["content-type","application/json"],` +
		`["user-agent","Discord-Interactions/1.0 (+https://discord.com)"]],"bodyB64":"` +
		base64.StdEncoding.EncodeToString(body) + `"}}`
	return prefix, suffix
}

// BenchmarkJetStreamCeiling publishes the same frames as BenchmarkInbound
// straight to the same kind of stream (file-backed RELAY_RAW with its
// duplicate window, Nats-Msg-Id per frame) with PublishMsgAsync and the same
// window: what JetStream alone can take on this machine.
func BenchmarkJetStreamCeiling(b *testing.B) {
	prefix, suffix := passthroughFrame(b)
	ns := natstest.RunServer(b)
	nc := natstest.Connect(b, ns)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(2*benchWindow))
	if err != nil {
		b.Fatal(err)
	}
	if err := bus.Ensure(context.Background(), js, bus.DefaultConfig()); err != nil {
		b.Fatal(err)
	}
	subject := events.RawChatSubject(wire.FramePassthroughForward, "discord:645027906669510667")
	slots := make(chan struct{}, benchWindow)
	futures := make(chan jetstream.PubAckFuture, benchWindow)
	done := make(chan error, 1)
	b.SetBytes(int64(len(prefix) + len(suffix) + 8))
	b.ResetTimer()
	began := time.Now()
	go func() {
		for range b.N {
			f := <-futures
			select {
			case <-f.Ok():
			case err := <-f.Err():
				done <- err
				return
			}
			<-slots
		}
		done <- nil
	}()
	buf := make([]byte, 0, len(prefix)+len(suffix)+16)
	for i := range b.N {
		id := "b-" + strconv.Itoa(i)
		buf = append(append(append(buf[:0], prefix...), id...), suffix...)
		m := &nats.Msg{Subject: subject, Header: nats.Header{events.MsgIDHeader: {id}}, Data: append([]byte(nil), buf...)}
		slots <- struct{}{}
		f, err := js.PublishMsgAsync(m)
		if err != nil {
			b.Fatal(err)
		}
		futures <- f
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(began)
	b.StopTimer()
	ceilingRate = float64(b.N) / elapsed.Seconds()
	b.ReportMetric(ceilingRate, "frames/s")
}

// BenchmarkInbound measures frames/s from a loopback connector through
// ws-edge into the RELAY_RAW stream, counting a frame when its inbound_ack
// reaches the connector (so every frame was durably stored first).
func BenchmarkInbound(b *testing.B) {
	prefix, suffix := passthroughFrame(b)
	h := start(b, func(c *wsedge.Config) { c.PublishWindow = benchWindow })
	h.conn.countOnly.Store(true)
	p := h.conn.accept(5 * time.Second)
	p.sendRaw(websocket.TextMessage, []byte(descriptorFrame("relay")+"\n"))
	h.waitReady()

	b.SetBytes(int64(len(prefix) + len(suffix) + 8))
	b.ResetTimer()
	began := time.Now()
	sent := make(chan error, 1)
	go func() {
		msg := make([]byte, 0, framesPerMessage*(len(prefix)+len(suffix)+16))
		for i := 0; i < b.N; {
			msg = msg[:0]
			for n := 0; n < framesPerMessage && i < b.N; n, i = n+1, i+1 {
				msg = append(msg, prefix...)
				msg = append(msg, 'b', '-')
				msg = strconv.AppendInt(msg, int64(i), 10)
				msg = append(msg, suffix...)
				msg = append(msg, '\n')
			}
			p.wmu.Lock()
			err := p.ws.WriteMessage(websocket.TextMessage, msg)
			p.wmu.Unlock()
			if err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	deadline := time.Now().Add(10 * time.Minute)
	for p.acks.Load() < int64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d frames acked within 10 minutes", p.acks.Load(), b.N)
		}
		time.Sleep(200 * time.Microsecond)
	}
	elapsed := time.Since(began)
	b.StopTimer()
	if err := <-sent; err != nil {
		b.Fatal(err)
	}
	rate := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(rate, "frames/s")
	if ceilingRate > 0 {
		b.ReportMetric(rate/ceilingRate, "ratio")
	}
}

// BenchmarkReconnect measures recovery after the connector drops the
// socket (docs/architecture.md: handshaken again within 2 s, first retry):
// the time from the drop to ws-edge being ready on a new, handshaken
// socket.
// The backoff ladder is the default (first retry after 0.75–1 s); the
// connection before each drop counts as stable, as a long-lived one does.
// Run with a small -benchtime count: each iteration takes about a second.
//
//	go test -run '^$' -bench Reconnect -benchtime 10x ./wsedge
func BenchmarkReconnect(b *testing.B) {
	h := start(b, func(c *wsedge.Config) {
		def := wsedge.DefaultConfig()
		c.BackoffMin, c.BackoffMax = def.BackoffMin, def.BackoffMax
		c.StableAfter = time.Millisecond
	})
	p := h.handshaken()
	var worst time.Duration
	b.ResetTimer()
	for range b.N {
		dropped := time.Now()
		p.drop()
		p = h.conn.accept(10 * time.Second)
		p.handshake(1)
		natstest.WaitFor(b, 10*time.Second, func() error { return h.svc.Ready(context.Background()) })
		worst = max(worst, time.Since(dropped))
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/reconnect")
	b.ReportMetric(worst.Seconds(), "worst-s")
	b.ReportMetric(0, "ns/op")
}
