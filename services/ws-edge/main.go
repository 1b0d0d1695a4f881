// Command ws-edge runs relaybus's ws-edge stage against NATS_URL: it holds
// the connector WebSocket and publishes every frame to JetStream. See
// wsedge's package documentation and README.md for the settings.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/relaybus/relaybus/internal/logging"
	"github.com/relaybus/relaybus/internal/natsconn"
	"github.com/relaybus/relaybus/services/ws-edge/wsedge"
)

// version is the build's version (SemVer), set with
// -ldflags "-X main.version=1.2.3".
var version = "0.1.0"

const name = "ws-edge"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	// -------------------------------------------------------------------------
	// Configuration

	cfg, err := wsedge.ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	if getenv("WSEDGE_HTTP_ADDR") == "" {
		cfg.HTTPAddr = ":8081"
	}
	cfg.Version = version
	if err := cfg.Validate(); err != nil {
		return err
	}

	// -------------------------------------------------------------------------
	// Logging

	log, err := logging.New(stdout, getenv)
	if err != nil {
		return err
	}
	log = log.With("service", name, "version", version)
	log.Info("startup", "config", cfg)

	// -------------------------------------------------------------------------
	// NATS

	nc, err := natsconn.Connect(natsconn.FromEnv(getenv), name, log)
	if err != nil {
		return err
	}
	defer nc.Close()

	// -------------------------------------------------------------------------
	// Service

	svc, err := wsedge.New(cfg, wsedge.Deps{Log: log, NC: nc})
	if err != nil {
		return err
	}
	return svc.Run(ctx)
}
