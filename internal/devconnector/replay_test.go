package devconnector_test

import (
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/relaybus/relaybus/internal/devconnector"
	"github.com/relaybus/relaybus/pkg/wire"
)

func emitN(t *testing.T, s *devconnector.Server, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = s.Emit(wire.FrameInbound, map[string]any{"event": map[string]any{"text": "m", "message_id": i}})
		if ids[i] == "" {
			t.Fatal("Emit() = \"\"")
		}
	}
	return ids
}

// expectBuffered reads len(want) frames and checks their bufferIds.
func expectBuffered(t *testing.T, g *gateway, want ...string) {
	t.Helper()
	got := make([]string, len(want))
	for i := range want {
		r := g.next()
		if r.err != nil {
			t.Fatalf("frame %s: %v", r.raw, r.err)
		}
		got[i] = r.frame.BufferID
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("bufferIds mismatch (-want +got):\n%s", diff)
	}
}

func TestReplay(t *testing.T) {
	s := newServer(t, devconnector.Config{})
	ids := emitN(t, s, 4) // queued while no gateway is connected

	g1 := dial(t, s, "")
	g1.hello("discord", "app1") // descriptor first, then the replay
	expectBuffered(t, g1, ids...)
	g1.ack(ids[1])
	g1.ack(ids[3])
	eventually(t, "two acks", func() bool { return s.Acked() == 2 })
	s.DropConnection()
	g1.closeError()

	later := emitN(t, s, 1)
	g2 := dial(t, s, "")
	g2.hello("discord", "app1")
	expectBuffered(t, g2, ids[0], ids[2], later[0]) // acked ones never replay
	if diff := cmp.Diff([]string{ids[0], ids[2], later[0]}, s.BufferedIDs()); diff != "" {
		t.Errorf("BufferedIDs mismatch (-want +got):\n%s", diff)
	}
	for _, id := range []string{ids[0], ids[2], later[0], ids[0], "b-nope"} {
		g2.ack(id)
	}
	if err := s.WaitDrained(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "unknown acks counted", func() bool { return s.State().UnknownAcks == 2 })
	s.CloseWith(1000, "bye")
	g2.closeError()

	g3 := dial(t, s, "")
	g3.hello("discord", "app1")
	fresh := emitN(t, s, 1)
	expectBuffered(t, g3, fresh...) // nothing replayed before the fresh frame
	st := s.State()
	if st.Replayed != 2 || st.Acked != 5 || st.Buffered != 1 || st.Connections != 3 {
		t.Errorf("state = replayed %d acked %d buffered %d connections %d, want 2 5 1 3", st.Replayed, st.Acked, st.Buffered, st.Connections)
	}
}

func TestNothingPushedBeforeHello(t *testing.T) {
	s := newServer(t, devconnector.Config{})
	g := dial(t, s, "")
	if err := s.WaitConnected(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	ids := emitN(t, s, 2)
	g.hello("relay", "") // the descriptor must be the first frame
	expectBuffered(t, g, ids...)
}

func TestReplayLimitDropsOldest(t *testing.T) {
	s := newServer(t, devconnector.Config{ReplayLimit: 3})
	ids := emitN(t, s, 5)
	if st := s.State(); st.Buffered != 3 || st.Dropped != 2 {
		t.Fatalf("buffered=%d dropped=%d, want 3 2", st.Buffered, st.Dropped)
	}
	g := connected(t, s)
	expectBuffered(t, g, ids[2:]...)
}

func TestEmitContextWaitsForRoom(t *testing.T) {
	s := newServer(t, devconnector.Config{ReplayLimit: 2})
	ids := emitN(t, s, 2)
	errc := make(chan error, 1)
	var third string
	go func() {
		var err error
		third, err = s.EmitContext(t.Context(), wire.FrameInbound, map[string]any{"event": map[string]any{}})
		errc <- err
	}()
	g := connected(t, s)
	expectBuffered(t, g, ids...)
	select {
	case err := <-errc:
		t.Fatalf("EmitContext returned %v while the buffer was full", err)
	default:
	}
	g.ack(ids[0])
	if err := <-errc; err != nil {
		t.Fatalf("EmitContext: %v", err)
	}
	expectBuffered(t, g, third)
	if st := s.State(); st.Dropped != 0 {
		t.Errorf("dropped = %d, want 0", st.Dropped)
	}
}

func TestEndpointsForwardFrames(t *testing.T) {
	s := newServer(t, devconnector.Config{})
	g := connected(t, s)

	t.Run("Inbound", func(t *testing.T) {
		status, resp := post(t, s, "/inbound", "application/json", "{\n  \"text\": \"hi\",\n  \"source\": {\"platform\": \"telegram\", \"chat_id\": \"5\"}\n}")
		if status != http.StatusAccepted {
			t.Fatalf("POST /inbound = %d %v", status, resp)
		}
		f := g.expect(wire.FrameInbound)
		if f.BufferID != resp["bufferId"] {
			t.Errorf("bufferId = %q, want %v", f.BufferID, resp["bufferId"])
		}
		ev, err := wire.DecodeInboundEvent(f.Event)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Text != "hi" || ev.SessionKey != "agent:main:telegram:dm:5" {
			t.Errorf("event = %+v", ev)
		}
	})
	t.Run("InboundNotObject", func(t *testing.T) {
		for _, body := range []string{"[]", "nope", "", `{"a":`} {
			if status, _ := post(t, s, "/inbound", "application/json", body); status != http.StatusBadRequest {
				t.Errorf("POST /inbound %q = %d, want 400", body, status)
			}
		}
	})
	t.Run("Interrupt", func(t *testing.T) {
		status, resp := post(t, s, "/interrupt", "application/json", `{"session_key":"agent:main:discord:group:c1:u1","chat_id":"c1"}`)
		if status != http.StatusAccepted {
			t.Fatalf("POST /interrupt = %d %v", status, resp)
		}
		f := g.expect(wire.FrameInterruptInbound)
		if f.SessionKey != "agent:main:discord:group:c1:u1" || f.ChatID != "c1" || f.BufferID != resp["bufferId"] {
			t.Errorf("interrupt_inbound = %+v", f)
		}
		if status, _ := post(t, s, "/interrupt", "application/json", `{"chat_id":"c1"}`); status != http.StatusBadRequest {
			t.Errorf("POST /interrupt without session_key = %d, want 400", status)
		}
	})
	t.Run("Twilio", func(t *testing.T) {
		status, resp := post(t, s, "/twilio?bot_id=tw1", "application/x-www-form-urlencoded", "Body=hello&From=%2B1555")
		if status != http.StatusAccepted {
			t.Fatalf("POST /twilio = %d %v", status, resp)
		}
		f := g.expect(wire.FramePassthroughForward)
		fw, err := wire.DecodeForward(f.Forward)
		if err != nil {
			t.Fatal(err)
		}
		want := wire.PassthroughForward{
			Platform: "twilio", BotID: "tw1", Method: "POST", Path: "/webhooks/twilio/tw1",
			Headers: [][2]string{{"content-type", "application/x-www-form-urlencoded"}},
			BodyB64: base64.StdEncoding.EncodeToString([]byte("Body=hello&From=%2B1555")),
		}
		if diff := cmp.Diff(want, fw); diff != "" {
			t.Errorf("forward mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("Raw", func(t *testing.T) {
		for len(g.raws) > 0 {
			<-g.raws
		}
		const raw = "not json\n{\"type\":"
		if status, resp := post(t, s, "/raw", "text/plain", raw); status != http.StatusAccepted {
			t.Fatalf("POST /raw = %d %v", status, resp)
		}
		r := g.next()
		if string(r.raw) != "not json" || r.err == nil {
			t.Errorf("frame = %q, %v; want the raw bytes and a decode error", r.raw, r.err)
		}
		if got := string(<-g.raws); got != raw {
			t.Errorf("message = %q, want %q verbatim", got, raw)
		}
	})
	t.Run("State", func(t *testing.T) {
		var st devconnector.State
		getJSON(t, s, "/state", &st)
		if !st.Connected || !st.Handshaken || st.Buffered != 3 || st.Connections != 1 {
			t.Errorf("GET /state = %+v", st)
		}
	})
}

func TestRawWithoutGateway(t *testing.T) {
	s := newServer(t, devconnector.Config{})
	if status, _ := post(t, s, "/raw", "text/plain", "x"); status != http.StatusServiceUnavailable {
		t.Errorf("POST /raw = %d, want 503", status)
	}
	if err := s.Push([]byte("x")); err != devconnector.ErrNotConnected {
		t.Errorf("Push() = %v, want ErrNotConnected", err)
	}
}

func TestEmitUnbufferedKeepsFields(t *testing.T) {
	s := newServer(t, devconnector.Config{})
	g := connected(t, s)
	if err := s.EmitUnbuffered(wire.FrameInbound, map[string]any{"event": map[string]any{"text": "dup"}, "bufferId": "b-42"}); err != nil {
		t.Fatal(err)
	}
	f := g.expect(wire.FrameInbound)
	if f.BufferID != "b-42" || s.Buffered() != 0 {
		t.Errorf("bufferId = %q, buffered = %d; want b-42, 0", f.BufferID, s.Buffered())
	}
	if err := s.EmitUnbuffered("x", map[string]any{"bad": make(chan int)}); err == nil {
		t.Error("EmitUnbuffered with a channel value: nil error")
	}
	if id := s.Emit("x", map[string]any{"bad": func() {}}); id != "" {
		t.Errorf("Emit with a func value = %q, want \"\"", id)
	}
}
