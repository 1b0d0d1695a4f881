package wsedge_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// connector is a scriptable stand-in for the connector: a real gorilla
// WebSocket server on 127.0.0.1 that hands every accepted socket to the test
// as a peer.
type connector struct {
	tb       testing.TB
	srv      *httptest.Server
	accepted chan *peer
	dials    atomic.Int64
	// ignorePings makes new peers swallow pings (no pong): a dead peer.
	ignorePings atomic.Bool
	// countOnly makes new peers count inbound_acks without decoding frames
	// (benchmarks).
	countOnly atomic.Bool
	// unread makes new peers read nothing unless the test reads p.ws itself:
	// a connector that stops reading stalls ws-edge's writer.
	unread atomic.Bool
}

// newConnector starts a connector; it is closed in Cleanup.
func newConnector(tb testing.TB) *connector {
	tb.Helper()
	c := &connector{tb: tb, accepted: make(chan *peer, 16)}
	up := websocket.Upgrader{ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10}
	mux := http.NewServeMux()
	mux.HandleFunc("/relay", func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c.dials.Add(1)
		p := &peer{
			tb:        tb,
			ws:        ws,
			auth:      r.Header.Get("Authorization"),
			frames:    make(chan map[string]any, 1<<16),
			closed:    make(chan struct{}),
			countOnly: c.countOnly.Load(),
		}
		if c.ignorePings.Load() {
			ws.SetPingHandler(func(string) error { return nil })
		} else {
			ws.SetPingHandler(func(data string) error {
				p.pings.Add(1)
				p.wmu.Lock()
				defer p.wmu.Unlock()
				err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
				if errors.Is(err, websocket.ErrCloseSent) {
					return nil
				}
				return err
			})
		}
		if c.unread.Load() {
			close(p.closed)
		} else {
			go p.readLoop()
		}
		c.accepted <- p
	})
	c.srv = httptest.NewServer(mux)
	tb.Cleanup(c.srv.Close)
	return c
}

// URL is the connector's base URL (http://127.0.0.1:port), as an operator
// would configure it.
func (c *connector) URL() string { return c.srv.URL }

// accept returns the next socket ws-edge dials.
func (c *connector) accept(timeout time.Duration) *peer {
	c.tb.Helper()
	select {
	case p := <-c.accepted:
		c.tb.Cleanup(func() { _ = p.ws.Close() })
		return p
	case <-time.After(timeout):
		c.tb.Fatalf("connector: no dial within %v", timeout)
		return nil
	}
}

// noDial fails if ws-edge dials while cond polls false; it returns once
// cond is true (cond observes something that proves time has passed).
func (c *connector) noDialUntil(timeout time.Duration, cond func() bool) {
	c.tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		select {
		case p := <-c.accepted:
			c.tb.Fatalf("connector: unexpected dial (auth %q)", p.auth)
		default:
		}
		if time.Now().After(deadline) {
			c.tb.Fatalf("connector: condition not met within %v", timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// peer is the connector's side of one socket.
type peer struct {
	tb        testing.TB
	ws        *websocket.Conn
	auth      string
	wmu       sync.Mutex
	frames    chan map[string]any
	closed    chan struct{}
	closeErr  error
	acks      atomic.Int64
	pings     atomic.Int64
	countOnly bool
}

var ackMarker = []byte(`"type":"inbound_ack"`)

func (p *peer) readLoop() {
	defer close(p.closed)
	for {
		_, data, err := p.ws.ReadMessage()
		if err != nil {
			p.closeErr = err
			return
		}
		if p.countOnly {
			p.acks.Add(int64(bytes.Count(data, ackMarker)))
			continue
		}
		for line := range bytes.SplitSeq(data, []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			var f map[string]any
			if err := json.Unmarshal(line, &f); err != nil {
				p.tb.Errorf("connector: gateway sent a non-JSON frame %q: %v", line, err)
				continue
			}
			if f["type"] == "inbound_ack" {
				p.acks.Add(1)
			}
			p.frames <- f
		}
	}
}

// send writes the frames as one text message, each with its newline.
func (p *peer) send(frames ...string) {
	p.tb.Helper()
	var b strings.Builder
	for _, f := range frames {
		b.WriteString(f)
		b.WriteByte('\n')
	}
	p.sendRaw(websocket.TextMessage, []byte(b.String()))
}

// sendRaw writes one message of type mt with exactly b.
func (p *peer) sendRaw(mt int, b []byte) {
	p.tb.Helper()
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if err := p.ws.WriteMessage(mt, b); err != nil {
		p.tb.Fatalf("connector: write: %v", err)
	}
}

// next returns the next frame ws-edge wrote.
func (p *peer) next(timeout time.Duration) map[string]any {
	p.tb.Helper()
	select {
	case f := <-p.frames:
		return f
	case <-time.After(timeout):
		p.tb.Fatalf("connector: no frame within %v", timeout)
		return nil
	}
}

// expect returns the next frame and fails unless its type is typ.
func (p *peer) expect(typ string) map[string]any {
	p.tb.Helper()
	f := p.next(5 * time.Second)
	if f["type"] != typ {
		p.tb.Fatalf("connector: got frame %v, want type %q", f, typ)
	}
	return f
}

// handshake reads n hellos and answers with a descriptor for each platform
// (the first hello's platform when none are given).
func (p *peer) handshake(n int, descriptors ...string) []map[string]any {
	p.tb.Helper()
	hellos := make([]map[string]any, 0, n)
	for range n {
		hellos = append(hellos, p.expect("hello"))
	}
	if len(descriptors) == 0 {
		descriptors = []string{descriptorFrame(hellos[0]["platform"].(string))}
	}
	p.send(descriptors...)
	return hellos
}

// closeWith closes the socket with a close code and reason.
func (p *peer) closeWith(code int, reason string) {
	p.tb.Helper()
	p.wmu.Lock()
	_ = p.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	p.wmu.Unlock()
	select {
	case <-p.closed:
	case <-time.After(2 * time.Second):
	}
	_ = p.ws.Close()
}

// drop cuts the TCP connection without a close frame.
func (p *peer) drop() { _ = p.ws.NetConn().Close() }

// waitClosed waits until ws-edge closed the socket and returns the error
// the reader saw (a *websocket.CloseError for a clean close).
func (p *peer) waitClosed(timeout time.Duration) error {
	p.tb.Helper()
	select {
	case <-p.closed:
		return p.closeErr
	case <-time.After(timeout):
		p.tb.Fatalf("connector: socket not closed within %v", timeout)
		return nil
	}
}

// descriptorFrame returns a descriptor frame for platform with the given
// supported_ops.
func descriptorFrame(platform string, ops ...string) string {
	return `{"type":"descriptor","descriptor":` + descriptorJSON(platform, ops...) + `}`
}

func descriptorJSON(platform string, ops ...string) string {
	d := map[string]any{
		"contract_version": 1, "platform": platform, "label": strings.ToUpper(platform[:1]) + platform[1:],
		"max_message_length": 2000, "supports_draft_streaming": false, "supports_edit": true,
		"supports_threads": true, "markdown_dialect": "discord", "len_unit": "chars",
		"supported_ops": ops,
	}
	if ops == nil {
		d["supported_ops"] = []string{}
	}
	b, _ := json.Marshal(d)
	return string(b)
}
