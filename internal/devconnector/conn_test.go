package devconnector_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/relaybus/relaybus/internal/devconnector"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/wire"
)

func TestKeepalive(t *testing.T) {
	s := newServer(t, devconnector.Config{PingInterval: 20 * time.Millisecond, PongWait: 300 * time.Millisecond})

	t.Run("PingsAnsweredAndSent", func(t *testing.T) {
		u, _ := wire.DialURL(s.URL())
		ws, resp, err := websocket.DefaultDialer.Dial(u, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		defer ws.Close()
		var pings, pongs atomic.Int64
		ws.SetPingHandler(func(data string) error {
			pings.Add(1)
			return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		})
		ws.SetPongHandler(func(data string) error {
			if data == "gw" {
				pongs.Add(1)
			}
			return nil
		})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					return
				}
			}
		}()
		if err := ws.WriteControl(websocket.PingMessage, []byte("gw"), time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		eventually(t, "pong and server pings", func() bool { return pongs.Load() == 1 && pings.Load() >= 3 })
		// Answered pings keep the socket alive past PongWait.
		deadline := time.Now().Add(400 * time.Millisecond)
		for time.Now().Before(deadline) {
			if !s.Connected() {
				t.Fatal("socket dropped although it answered pings")
			}
			time.Sleep(20 * time.Millisecond)
		}
		ws.Close()
		<-done
	})
	t.Run("SilentPeerDropped", func(t *testing.T) {
		before := s.State().Connections
		u, _ := wire.DialURL(s.URL())
		ws, resp, err := websocket.DefaultDialer.Dial(u, nil) // never reads: never pongs
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		defer ws.Close()
		if err := s.WaitConnections(ctxTimeout(t), before+1); err != nil {
			t.Fatal(err)
		}
		eventually(t, "silent socket dropped", func() bool { return !s.Connected() })
	})
}

func TestHandlerEmbedded(t *testing.T) {
	s, err := devconnector.New(devconnector.Config{})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	if s.URL() != "" {
		t.Errorf("URL() before Start = %q, want \"\"", s.URL())
	}
	u := "ws" + strings.TrimPrefix(hs.URL, "http") + "/relay"
	ws, resp, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	defer ws.Close()
	if err := ws.WriteMessage(websocket.TextMessage, wire.AppendHello(nil, "telegram", "b")); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitHandshake(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	readErr := make(chan error, 1)
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				readErr <- err
				return
			}
		}
	}()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-readErr; !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("read after Close = %v, want close 1001", err)
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	http.DefaultClient.CloseIdleConnections()
	base := runtime.NumGoroutine()

	s, err := devconnector.New(devconnector.Config{PingInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	first := dial(t, s, "")
	first.hello("discord", "a")
	second := dial(t, s, "") // replaces the first
	second.hello("discord", "a")
	refusedSrv := s // a waiter that must be released by Close
	waitErr := make(chan error, 1)
	go func() {
		_, err := refusedSrv.WaitOutbound(context.Background(), 1)
		waitErr <- err
	}()
	post(t, s, "/inbound", "application/json", `{"text":"x"}`)
	second.expect(wire.FrameInbound)

	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-waitErr; !errors.Is(err, devconnector.ErrClosed) {
		t.Errorf("WaitOutbound after Close = %v, want ErrClosed", err)
	}
	if ce := second.closeError(); ce == nil || ce.Code != 1001 {
		t.Errorf("close = %v (err %v), want 1001", ce, second.err)
	}
	first.close()
	second.close()
	http.DefaultClient.CloseIdleConnections()
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Start(); !errors.Is(err, devconnector.ErrClosed) {
		t.Errorf("Start after Close = %v, want ErrClosed", err)
	}

	deadline := time.Now().Add(waitTimeout)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Close, baseline %d:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCloseWithUnresponsivePeerIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the close timeout")
	}
	s, err := devconnector.New(devconnector.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	// A peer that never reads, so never echoes the close frame.
	ws := rawDial(t, s, nil)
	if err := s.WaitConnected(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %v, want about 2s", d)
	}
	if _, _, err := ws.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("peer read = %v, want close 1001", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	s := newServer(t, devconnector.Config{ReplayLimit: 100000})
	g := connected(t, s)
	const (
		emitters = 4
		perEmit  = 500
		outbound = 300
	)
	// The gateway acks everything it gets and answers nothing else.
	acked := make(chan struct{})
	go func() {
		defer close(acked)
		n := 0
		results := 0
		for n < emitters*perEmit+10 || results < outbound {
			r := g.next()
			switch r.frame.Type {
			case wire.FrameInbound, wire.FramePassthroughForward:
				g.ack(r.frame.BufferID)
				n++
			case wire.FrameOutboundResult:
				results++
			}
		}
	}()
	var wg sync.WaitGroup
	for e := range emitters {
		wg.Go(func() {
			for i := range perEmit {
				if e == 0 && i < 10 {
					post(t, s, "/interactions?bot_id=a", "application/json", fmt.Sprintf(`{"id":"i%d","type":2,"token":"t","guild_id":"g","channel_id":"c%d","member":{"user":{"id":"u"}},"data":{"name":"x"}}`, i, i))
				}
				s.Emit(wire.FrameInbound, map[string]any{"event": map[string]any{"text": fmt.Sprint(e, i)}})
			}
		})
	}
	wg.Go(func() {
		for i := range outbound {
			a, _ := (&events.Action{Op: "typing", ChatID: "x"}).AppendJSON(nil)
			g.sendText(string(wire.AppendOutbound(nil, fmt.Sprint("r", i), a, "", "")))
		}
	})
	wg.Go(func() {
		for range 50 {
			_ = s.State()
			_ = s.Outbound()
			_ = s.BufferedIDs()
		}
	})
	wg.Wait()
	select {
	case <-acked:
	case <-time.After(10 * time.Second):
		t.Fatal("gateway did not see every frame")
	}
	if err := s.WaitDrained(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	st := s.State()
	if st.Acked != emitters*perEmit+10 || st.OutboundCount != outbound || st.Dropped != 0 || st.UnknownAcks != 0 {
		t.Errorf("state = %+v", st)
	}
}
