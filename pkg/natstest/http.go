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
		tb.Fatalf("natstest: free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// Get returns the status code and body of GET url.
func Get(url string) (int, string, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// Probe returns the status code of GET http://addr/path.
func Probe(addr, path string) (int, error) {
	code, _, err := Get("http://" + addr + path)
	return code, err
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
