package converter_test

import (
	"context"
	"encoding/json"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/fixtures"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/pkg/wire"
	"github.com/relaybus/relaybus/services/passthrough-converter/converter"
)

// benchFrames returns b.N passthrough_forward frames built from fixtures
// 02, 08 and 11 (token removed, as the connector forwards them), each with
// a unique interaction id.
func benchFrames(b *testing.B) [][]byte {
	b.Helper()
	var templates []map[string]any
	for _, f := range []string{"02_slash_command_options.json", "08_button_click.json", "11_modal_submit.json"} {
		raw, err := fixtures.ReadDiscord(f)
		if err != nil {
			b.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			b.Fatal(err)
		}
		delete(m, "token")
		templates = append(templates, m)
	}
	out := make([][]byte, b.N)
	for i := range out {
		m := templates[i%len(templates)]
		m["id"] = strconv.Itoa(1_400_000_000_000_000_000 + i)
		body, _ := json.Marshal(m)
		out[i] = forwardFrame("discord", body, "bench-"+strconv.Itoa(i))
	}
	return out
}

// fill stores the frames on RELAY_RAW the way ws-edge does (async, with
// bufferIds as de-duplication ids).
func fill(b *testing.B, js jetstream.JetStream, frames [][]byte) {
	b.Helper()
	for i, f := range frames {
		key := wire.ChatKey(wire.FramePassthroughForward, f)
		m := nats.NewMsg(events.RawChatSubject(wire.FramePassthroughForward, key))
		m.Header.Set(events.ChatHeader, events.SubjectToken(key))
		m.Data = f
		m.Header.Set(events.MsgIDHeader, "bench-"+strconv.Itoa(i))
		if _, err := js.PublishMsgAsync(m); err != nil {
			b.Fatal(err)
		}
	}
	<-js.PublishAsyncComplete()
}

func inboundCount(b *testing.B, js jetstream.JetStream) uint64 {
	s, err := js.Stream(context.Background(), events.InboundStream)
	if err != nil {
		b.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return info.State.Msgs
}

// BenchmarkConverter measures conversions/s of one replica: b.N Discord
// interactions already on RELAY_RAW, converted and stored on RELAY_INBOUND
// (scope recorded), timed from the converter's start to the last event.
// Compare with BenchmarkJetStreamCeiling in the same run.
//
//	go test -run '^$' -bench 'Converter/' -benchtime 20000x ./converter
//
// partitions=0 is one shared consumer; partitions=16 the default, one
// pinned consumer per partition (this one replica holds them all).
func BenchmarkConverter(b *testing.B) {
	for _, parts := range []int{0, 4, 8, 16} {
		b.Run("partitions="+strconv.Itoa(parts), func(b *testing.B) {
			bc := bus.DefaultConfig()
			bc.Partitions = parts
			e := newEnvBus(b, bc)
			fill(b, e.js, benchFrames(b))
			cfg := converter.DefaultConfig()
			cfg.Bus = bc
			svc, err := converter.New(cfg, converter.Deps{NC: natstest.Connect(b, e.ns)})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			b.ResetTimer()
			go func() { done <- svc.Run(ctx) }()
			// Timed from the first conversion: the consumers' creation
			// (one, or one per partition) is start-up, not throughput.
			var first uint64
			for first = inboundCount(b, e.js); first == 0; first = inboundCount(b, e.js) {
				time.Sleep(time.Millisecond)
			}
			start := time.Now()
			for inboundCount(b, e.js) < uint64(b.N) {
				time.Sleep(2 * time.Millisecond)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			cancel()
			<-done
			b.ReportMetric(float64(uint64(b.N)-first)/elapsed.Seconds(), "conversions/s")
		})
	}
}

// BenchmarkJetStreamCeiling consumes the same stored frames and publishes
// them unchanged to RELAY_INBOUND (one synchronous publish and an ack per
// message, 64 workers, no conversion): the bus cost the converter pays.
func BenchmarkJetStreamCeiling(b *testing.B) {
	e := newEnvB(b)
	fill(b, e.js, benchFrames(b))
	cons, err := e.js.CreateOrUpdateConsumer(context.Background(), events.RawStream, jetstream.ConsumerConfig{Durable: "ceiling", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 1024})
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	msgs := make(chan jetstream.Msg, 64)
	b.ResetTimer()
	start := time.Now()
	for range 64 {
		go func() {
			for m := range msgs {
				out := nats.NewMsg("relay.inbound.message.discord.x")
				out.Data = m.Data()
				out.Header.Set(events.MsgIDHeader, "c-"+m.Headers().Get(events.MsgIDHeader))
				if _, err := e.js.PublishMsg(context.Background(), out); err == nil {
					_ = m.Ack()
					n.Add(1)
				}
			}
		}()
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(128))
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		m, err := it.Next()
		if err != nil {
			b.Fatal(err)
		}
		msgs <- m
	}
	for n.Load() < int64(b.N) {
		time.Sleep(2 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	it.Stop()
	close(msgs)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}
