package devconnector_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/relaybus/relaybus/internal/devconnector"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/wire"
)

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report adds frames/s (wall clock, load-sensitive) and CPU µs per frame
// (server and test gateway together; stable on a shared machine).
func report(b *testing.B, start time.Time, cpu0 time.Duration) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "frames/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/frame")
}

// readFrames calls fn for every frame until fn returns false.
func readFrames(ws *websocket.Conn, fn func(line []byte) bool) error {
	var pending []byte
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			return err
		}
		data := append(pending, msg...)
		for {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				break
			}
			line := data[:i]
			data = data[i+1:]
			if !fn(line) {
				return nil
			}
		}
		pending = append(pending[:0], data...)
	}
}

// ackingGateway connects a gateway to s (hello for discord) that acks every
// buffered frame it reads, in batches of up to 32 KiB, until it has acked
// b.N; the channel gets the end of its reading (nil once all are acked).
func ackingGateway(b *testing.B, s *devconnector.Server) <-chan error {
	ws := rawDial(b, s, nil)
	_ = ws.WriteMessage(websocket.TextMessage, wire.AppendHello(nil, "discord", "a"))
	done := make(chan error, 1)
	go func() {
		n := 0
		var acks []byte
		done <- readFrames(ws, func(line []byte) bool {
			// The cheapest way to the bufferId of our own frames.
			i := bytes.LastIndex(line, []byte(`"bufferId":"`))
			if i < 0 {
				return true // not buffered (a descriptor request): no ack
			}
			id := line[i+len(`"bufferId":"`):]
			acks = wire.AppendInboundAck(acks, string(id[:bytes.IndexByte(id, '"')]))
			n++
			if len(acks) > 32<<10 || n == b.N {
				if err := ws.WriteMessage(websocket.TextMessage, acks); err != nil {
					return false
				}
				acks = acks[:0]
			}
			return n < b.N
		})
	}()
	return done
}

// BenchmarkDeliverAck measures buffered delivery: Emit, coalesced write,
// gateway read, inbound_ack, removal from the replay buffer.
func BenchmarkDeliverAck(b *testing.B) {
	s := newServer(b, devconnector.Config{Log: slog.New(slog.DiscardHandler)})
	done := ackingGateway(b, s)
	event := map[string]any{"text": "hello from the bench", "message_type": "text", "source": map[string]any{"platform": "discord", "chat_id": "c1", "chat_type": "group", "user_id": "u1"}}
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for range b.N {
		if _, err := s.EmitContext(b.Context(), wire.FrameInbound, map[string]any{"event": event}); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if err := s.WaitAcked(b.Context(), b.N); err != nil {
		b.Fatal(err)
	}
	report(b, start, cpu0)
}

// BenchmarkOutbound measures outbound → outbound_result round trips with
// the gateway pipelining its frames.
func BenchmarkOutbound(b *testing.B) {
	s := newServer(b, devconnector.Config{Log: slog.New(slog.DiscardHandler)})
	ws := rawDial(b, s, nil)
	action, _ := (&events.Action{Op: events.OpSend, ChatID: "c1", Content: "a reply of moderate length", Metadata: map[string]any{"scope_id": "g1"}}).AppendJSON(nil)

	done := make(chan error, 1)
	go func() {
		n := 0
		done <- readFrames(ws, func(line []byte) bool {
			if bytes.Contains(line, []byte(`"outbound_result"`)) {
				n++
			}
			return n < b.N
		})
	}()
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	var batch []byte
	for i := range b.N {
		batch = wire.AppendOutbound(batch, fmt.Sprintf("%032x", i), action, "discord", "a")
		if len(batch) > 16<<10 || i == b.N-1 {
			if err := ws.WriteMessage(websocket.TextMessage, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := <-done; err != nil && err != io.EOF {
		b.Fatal(err)
	}
	report(b, start, cpu0)
}

// BenchmarkForwardInteraction measures the interaction path the bench
// drives: parse, vault, sanitize, buffer, write, ack.
func BenchmarkForwardInteraction(b *testing.B) {
	s := newServer(b, devconnector.Config{Log: slog.New(slog.DiscardHandler)})
	done := ackingGateway(b, s)
	bodies := make([][]byte, 64)
	for i := range bodies {
		bodies[i] = fmt.Appendf(nil, `{"id":"%d","application_id":"app1","type":2,"token":"tok-%d","guild_id":"g1","channel_id":"c%d","member":{"user":{"id":"u%d","username":"bob"},"nick":"Bob"},"data":{"id":"cmd","name":"ask","type":1,"options":[{"name":"q","type":3,"value":"what is the answer"}]}}`, i, i, i%8, i%16)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for i := range b.N {
		if _, err := s.ForwardInteraction(b.Context(), bodies[i%len(bodies)], devconnector.InteractionOptions{BotID: "app1"}); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	report(b, start, cpu0)
}
