package devconnector_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
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

func TestRecordLimit(t *testing.T) {
	s := newServer(t, devconnector.Config{RecordLimit: 3})
	g := connected(t, s)
	for i := range 10 {
		g.outbound(fmt.Sprint("r", i), events.Action{Op: "typing", ChatID: "c"}, "")
		g.sendText(string(wire.AppendInterrupt(nil, fmt.Sprint("k", i), nil)))
	}
	recs, err := s.WaitOutbound(ctxTimeout(t), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].RequestID != "r7" || recs[2].RequestID != "r9" {
		t.Errorf("records = %d, first %q last %q; want 3 r7..r9", len(recs), recs[0].RequestID, recs[len(recs)-1].RequestID)
	}
	if err := s.WaitInterrupts(ctxTimeout(t), 10); err != nil {
		t.Fatal(err)
	}
	if irs := s.Interrupts(); len(irs) != 3 || irs[2].SessionKey != "k9" {
		t.Errorf("interrupts = %+v", irs)
	}
	if st := s.State(); st.OutboundCount != 10 || st.Interrupts != 10 {
		t.Errorf("counts = %d %d, want 10 10", st.OutboundCount, st.Interrupts)
	}
}
