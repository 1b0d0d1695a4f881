package stage

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

type healthcheckKey struct{}

// HealthcheckContext marks ctx so that [Run] probes the binary's ops port
// instead of running the stage ([Main] does it for `BIN healthcheck`).
func HealthcheckContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, healthcheckKey{}, true)
}

// ProbeTimeout bounds one [Probe].
const ProbeTimeout = 3 * time.Second

// LocalURL is the URL of path on an ops port bound to addr, seen from the
// same host: a wildcard or empty host (":8081", "0.0.0.0:8081") is
// 127.0.0.1.
func LocalURL(addr, path string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || port == "0" {
		return "", fmt.Errorf("healthcheck: ops address %q has no port to probe", addr)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + path, nil
}

// Probe GETs url and returns nil on a 200, otherwise an error naming the
// URL and the status (or the failure), within [ProbeTimeout].
func Probe(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
