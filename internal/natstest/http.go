package natstest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// FreeAddr returns a loopback host:port nothing listens on (yet).
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Probe returns the status code of GET http://addr/path.
func Probe(addr, path string) (int, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// WantStatus polls GET http://addr/path until it answers code, for up to
// timeout.
func WantStatus(tb testing.TB, timeout time.Duration, addr, path string, code int) {
	tb.Helper()
	WaitFor(tb, timeout, func() error {
		got, err := Probe(addr, path)
		if err != nil {
			return err
		}
		if got != code {
			return fmt.Errorf("GET %s = %d, want %d", path, got, code)
		}
		return nil
	})
}
