// Command passthrough-converter runs the converter stage: raw connector
// frames from RELAY_RAW in, normalized MessageEvents on relay.inbound.* out,
// chat scope recorded in KV relay_scope. See README.md.
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
	"github.com/relaybus/relaybus/services/passthrough-converter/converter"
)

var version = "0.1.0"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	// Configuration.
	cfg, err := converter.ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = ":8082"
	}
	cfg.Version = version
	ncfg := natsconn.FromEnv(getenv)

	// Logging.
	log, err := logging.New(stdout, getenv)
	if err != nil {
		return err
	}
	log = log.With("service", "passthrough-converter", "version", version)
	log.Info("startup", "nats_url", natsconn.RedactURL(ncfg.URL), "nats_creds_set", ncfg.Creds != "", "consumer", cfg.Durable, "workers", cfg.Workers,
		"http_addr", cfg.HTTPAddr, "replicas", cfg.Bus.Replicas)

	// NATS.
	nc, err := natsconn.Connect(ncfg, "passthrough-converter", log)
	if err != nil {
		return err
	}
	defer nc.Close()

	// Service.
	svc, err := converter.New(cfg, converter.Deps{Log: log, NC: nc})
	if err != nil {
		return err
	}
	return svc.Run(ctx)
}
