package devconnector_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/relaybus/relaybus/internal/devconnector"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/pkg/wire"
)

const waitTimeout = 5 * time.Second

// newServer starts a dev connector on 127.0.0.1:0, closed in Cleanup.
func newServer(tb testing.TB, cfg devconnector.Config) *devconnector.Server {
	tb.Helper()
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := devconnector.New(cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	if err := s.Start(); err != nil {
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// newClock returns the clock the tests inject as Config.Now.
func newClock() *natstest.Clock { return natstest.NewClock(time.Unix(1_700_000_000, 0)) }

// received is one frame the test gateway read.
type received struct {
	raw   []byte
	frame wire.Frame
	err   error // DecodeFrame's error
}

// gateway is a minimal test gateway: a real gorilla client that splits
// NDJSON and decodes frames with the gateway's own decoder.
type gateway struct {
	tb     testing.TB
	ws     *websocket.Conn
	frames chan received
	raws   chan []byte // every message, verbatim
	done   chan struct{}
	err    error // the read error, valid after done

	messages atomic.Int64 // messages read
	multi    atomic.Int64 // messages that held more than one frame
	wmu      sync.Mutex
}

// rawDial connects a bare gateway socket (no reader, no per-frame channels:
// benchmarks and tests of the socket itself), with header h (nil for none);
// it is closed in Cleanup.
func rawDial(tb testing.TB, s *devconnector.Server, h http.Header) *websocket.Conn {
	tb.Helper()
	u, _ := wire.DialURL(s.URL())
	ws, resp, err := websocket.DefaultDialer.Dial(u, h)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	tb.Cleanup(func() { ws.Close() })
	return ws
}

// dial connects a test gateway, with an Authorization header when token is
// not empty; it is closed in Cleanup.
func dial(tb testing.TB, s *devconnector.Server, token string) *gateway {
	tb.Helper()
	u, err := wire.DialURL(s.URL())
	if err != nil {
		tb.Fatalf("DialURL(%q): %v", s.URL(), err)
	}
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", wire.BearerHeader(token))
	}
	ws, resp, err := websocket.DefaultDialer.Dial(u, h)
	if err != nil {
		tb.Fatalf("Dial(%s): %v", u, err)
	}
	resp.Body.Close()
	g := &gateway{
		tb:     tb,
		ws:     ws,
		frames: make(chan received, 1<<16),
		raws:   make(chan []byte, 1<<16),
		done:   make(chan struct{}),
	}
	go g.read()
	tb.Cleanup(g.close)
	return g
}

func (g *gateway) read() {
	defer close(g.done)
	var pending []byte
	for {
		_, msg, err := g.ws.ReadMessage()
		if err != nil {
			g.err = err
			return
		}
		g.messages.Add(1)
		select {
		case g.raws <- msg:
		default:
		}
		data := append(pending, msg...)
		pending = nil
		n := 0
		for {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				pending = append([]byte(nil), data...)
				break
			}
			line := bytes.TrimSpace(data[:i])
			data = data[i+1:]
			if len(line) == 0 {
				continue
			}
			n++
			f, err := wire.DecodeFrame(line)
			g.frames <- received{raw: append([]byte(nil), line...), frame: f, err: err}
		}
		if n > 1 {
			g.multi.Add(1)
		}
	}
}

func (g *gateway) close() {
	_ = g.ws.Close()
	<-g.done
}

// sendText writes one text message.
func (g *gateway) sendText(msg string) {
	g.tb.Helper()
	g.sendMessage(websocket.TextMessage, msg)
}

func (g *gateway) sendMessage(typ int, msg string) {
	g.tb.Helper()
	g.wmu.Lock()
	defer g.wmu.Unlock()
	if err := g.ws.WriteMessage(typ, []byte(msg)); err != nil {
		g.tb.Fatalf("WriteMessage: %v", err)
	}
}

// hello sends hello and returns the descriptor.
func (g *gateway) hello(platform, botID string) map[string]any {
	g.tb.Helper()
	g.sendText(string(wire.AppendHello(nil, platform, botID)))
	f := g.expect(wire.FrameDescriptor)
	var d map[string]any
	if err := json.Unmarshal(f.Descriptor, &d); err != nil {
		g.tb.Fatalf("descriptor: %v", err)
	}
	return d
}

func (g *gateway) ack(bufferID string) {
	g.tb.Helper()
	g.sendText(string(wire.AppendInboundAck(nil, bufferID)))
}

// outbound sends an action and returns its result.
func (g *gateway) outbound(requestID string, action events.Action, platform string) map[string]any {
	g.tb.Helper()
	a, err := action.AppendJSON(nil)
	if err != nil {
		g.tb.Fatalf("AppendJSON: %v", err)
	}
	g.sendText(string(wire.AppendOutbound(nil, requestID, a, platform, "")))
	f := g.expect(wire.FrameOutboundResult)
	if f.RequestID != requestID {
		g.tb.Fatalf("outbound_result requestId = %q, want %q", f.RequestID, requestID)
	}
	var r map[string]any
	if err := json.Unmarshal(f.Result, &r); err != nil {
		g.tb.Fatalf("result: %v", err)
	}
	return r
}

// next returns the next frame.
func (g *gateway) next() received {
	g.tb.Helper()
	select {
	case r := <-g.frames:
		return r
	case <-g.done:
		select {
		case r := <-g.frames:
			return r
		default:
		}
		g.tb.Fatalf("socket closed while waiting for a frame: %v", g.err)
	case <-time.After(waitTimeout):
		g.tb.Fatalf("no frame within %v", waitTimeout)
	}
	return received{}
}

// expect returns the next frame, which must decode and be of type typ.
func (g *gateway) expect(typ string) wire.Frame {
	g.tb.Helper()
	r := g.next()
	if r.err != nil {
		g.tb.Fatalf("frame %s: %v", r.raw, r.err)
	}
	if r.frame.Type != typ {
		g.tb.Fatalf("frame type = %q (%s), want %q", r.frame.Type, r.raw, typ)
	}
	return r.frame
}

// closeError waits for the socket to end and returns its close error.
func (g *gateway) closeError() *websocket.CloseError {
	g.tb.Helper()
	select {
	case <-g.done:
	case <-time.After(waitTimeout):
		g.tb.Fatalf("socket still open after %v", waitTimeout)
	}
	var ce *websocket.CloseError
	if !errors.As(g.err, &ce) {
		return nil
	}
	return ce
}

// post sends a POST and returns the status and decoded JSON body.
func post(tb testing.TB, s *devconnector.Server, path, contentType, body string) (int, map[string]any) {
	tb.Helper()
	resp, err := http.Post(s.URL()+path, contentType, strings.NewReader(body))
	if err != nil {
		tb.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("reading %s response: %v", path, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatalf("POST %s response %q: %v", path, b, err)
	}
	return resp.StatusCode, m
}

func getJSON(tb testing.TB, s *devconnector.Server, path string, v any) {
	tb.Helper()
	resp, err := http.Get(s.URL() + path)
	if err != nil {
		tb.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s = %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		tb.Fatalf("GET %s: %v", path, err)
	}
}

func ctxTimeout(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(tb.Context(), waitTimeout)
	tb.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds or the deadline passes.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: still false after %v", what, waitTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// connected dials, says hello and waits for the handshake.
func connected(tb testing.TB, s *devconnector.Server) *gateway {
	tb.Helper()
	g := dial(tb, s, "")
	g.hello("discord", "app1")
	return g
}
