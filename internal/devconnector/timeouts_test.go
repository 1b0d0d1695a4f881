package devconnector_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/relaybus/relaybus/internal/devconnector"
)

// TestHTTPTimeouts: the HTTP server drops a client that stalls a request
// and a kept-alive connection left idle, while a /relay socket outlives
// every HTTP timeout many times over and still carries frames both ways.
func TestHTTPTimeouts(t *testing.T) {
	const timeout = 150 * time.Millisecond
	s := newServer(t, devconnector.Config{
		HTTPReadTimeout: timeout, HTTPWriteTimeout: timeout, HTTPIdleTimeout: timeout,
		PingInterval: time.Second, PongWait: 10 * time.Second,
	})

	t.Run("SocketOutlivesThem", func(t *testing.T) {
		g := connected(t, s)
		time.Sleep(8 * timeout)
		if !s.Connected() {
			t.Fatal("the socket was dropped")
		}
		if code, _ := post(t, s, "/inbound", "application/json", `{"text":"late","source":{"platform":"discord","chat_id":"c1"}}`); code != http.StatusOK && code != http.StatusAccepted {
			t.Fatalf("POST /inbound = %d", code)
		}
		g.expect("inbound") // the connector still writes to it
		g.hello("discord", "app1")
	})

	// closedWithin reports whether the server closed c within d.
	closedWithin := func(c net.Conn, d time.Duration) (time.Duration, bool) {
		start := time.Now()
		_ = c.SetReadDeadline(start.Add(d))
		_, err := io.Copy(io.Discard, c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return time.Since(start), false
		}
		return time.Since(start), true
	}

	t.Run("StalledRequestDropped", func(t *testing.T) {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// Headers complete, body promised and never sent.
		if _, err := io.WriteString(c, "POST /inbound HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"); err != nil {
			t.Fatal(err)
		}
		if d, ok := closedWithin(c, 3*time.Second); !ok {
			t.Errorf("a stalled request kept its connection for %v", d)
		}
	})

	t.Run("IdleConnectionDropped", func(t *testing.T) {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, "GET /state HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if d, ok := closedWithin(c, 3*time.Second); !ok {
			t.Errorf("an idle kept-alive connection stayed open for %v", d)
		}
	})
}
