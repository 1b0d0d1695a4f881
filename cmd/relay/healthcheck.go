package main

import (
	"context"
	"io"

	"github.com/relaybus/relaybus/internal/stage"
)

// runHealthcheck probes a running relay beside it (a container's
// HEALTHCHECK): by default the all-in-one's /healthz on RELAY_HTTP_ADDR,
// or any URL (the dev connector's /state). It exits 0 on a 200.
func runHealthcheck(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := newFlags("healthcheck", "relay healthcheck [--url URL]", stderr)
	url := fs.String("url", "", "GET this URL instead of the all-in-one's /healthz on RELAY_HTTP_ADDR")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" {
		u, err := stage.LocalURL(envOr(getenv, "RELAY_HTTP_ADDR", "127.0.0.1:8080"), "/healthz")
		if err != nil {
			return err
		}
		*url = u
	}
	return stage.Probe(ctx, *url)
}
