// Command egress runs the relaybus egress stage against NATS_URL: it turns
// agents' reply actions (relay.outbound.<op>) into outbound frames through
// ws-edge and publishes their results. See README.md for the environment.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/relaybus/relaybus/internal/natsconn"
	"github.com/relaybus/relaybus/services/egress/egress"
)

// version is the SemVer of this build, set with -ldflags "-X main.version=1.2.3".
var version = "0.1.0"

// defaultHTTPAddr is the binary's ops port when EGRESS_HTTP_ADDR is unset.
const defaultHTTPAddr = ":8083"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	// =========================================================================
	// Configuration

	cfg, err := egress.ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	if getenv("EGRESS_HTTP_ADDR") == "" {
		cfg.HTTPAddr = defaultHTTPAddr
	}
	cfg.Version = version
	if err := cfg.Validate(); err != nil {
		return err
	}
	level, err := parseLevel(getenv("LOG_LEVEL"))
	if err != nil {
		return err
	}

	// =========================================================================
	// Logging

	hopts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch f := getenv("LOG_FORMAT"); f {
	case "", "json":
		h = slog.NewJSONHandler(stdout, hopts)
	case "text":
		h = slog.NewTextHandler(stdout, hopts)
	default:
		return fmt.Errorf("egress: LOG_FORMAT=%q: want json or text", f)
	}
	log := slog.New(h).With("service", egress.Name, "version", version)

	// =========================================================================
	// Startup

	natsCfg := natsconn.FromEnv(getenv)
	log.Info("startup",
		"nats_url", redactURL(natsCfg.URL),
		"nats_creds_set", natsCfg.Creds != "",
		"http_addr", cfg.HTTPAddr,
		"workers", cfg.Workers,
		"action_deadline", cfg.ActionDeadline.String(),
		"edge_timeout", cfg.EdgeTimeout.String(),
		"ack_wait", cfg.AckWait.String(),
		"retry_base", cfg.RetryBase.String(),
		"retry_max", cfg.RetryMax.String(),
		"primary_platform", cfg.PrimaryPlatform,
		"stream_replicas", cfg.Bus.Replicas,
		"duplicate_window", cfg.Bus.DuplicateWindow.String(),
	)

	// =========================================================================
	// NATS

	nc, err := natsconn.Connect(natsCfg, egress.Name, log)
	if err != nil {
		return err
	}
	defer nc.Close()

	// =========================================================================
	// Service

	svc, err := egress.New(cfg, egress.Deps{Log: log, NC: nc})
	if err != nil {
		return err
	}
	return svc.Run(ctx)
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("egress: LOG_LEVEL=%q: want debug, info, warn or error", s)
}

// redactURL hides credentials embedded in NATS URLs (nats://user:pass@host),
// in a comma-separated list too.
func redactURL(list string) string {
	var out []string
	for u := range strings.SplitSeq(list, ",") {
		if at := strings.LastIndex(u, "@"); at >= 0 {
			scheme := ""
			if i := strings.Index(u, "://"); i >= 0 && i < at {
				scheme = u[:i+3]
			}
			u = scheme + "redacted@" + u[at+1:]
		}
		out = append(out, u)
	}
	return strings.Join(out, ",")
}
