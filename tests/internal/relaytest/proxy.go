package relaytest

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy is a loopback TCP proxy in front of a server (NATS) whose
// server-to-client direction can be held up for a while, as a stalled
// network path or a starved server would: what the server sends meanwhile
// is delivered late, all at once, in order.
type Proxy struct {
	ln     net.Listener
	target string

	mu          sync.Mutex
	pausedUntil time.Time
	conns       []net.Conn
}

// StartProxy listens on a loopback port and forwards every connection to
// target (host:port) until cleanup.
func StartProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("relaytest: proxy: %v", err)
	}
	p := &Proxy{ln: ln, target: target}
	go p.accept()
	tb.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			_ = c.Close()
		}
	})
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// HoldDown holds every byte from the server to the clients for d from now
// (the clients' requests still reach the server).
func (p *Proxy) HoldDown(d time.Duration) {
	p.mu.Lock()
	p.pausedUntil = time.Now().Add(d)
	p.mu.Unlock()
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go func() {
			_, _ = io.Copy(s, c)
			_ = s.Close()
		}()
		go func() {
			p.down(c, s)
			_ = c.Close()
		}()
	}
}

// down copies server to client, holding each chunk while paused.
func (p *Proxy) down(client, server net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			p.mu.Lock()
			wait := time.Until(p.pausedUntil)
			p.mu.Unlock()
			if wait > 0 {
				time.Sleep(wait)
			}
			if _, werr := client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
