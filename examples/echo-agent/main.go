// Command echo-agent is relaybus's example agent: it connects to NATS_URL
// and answers every event (see package echo).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/nats-io/nats.go"

	"github.com/relaybus/relaybus/examples/echo-agent/echo"
	"github.com/relaybus/relaybus/internal/logging"
	"github.com/relaybus/relaybus/internal/natsconn"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	log, err := logging.New(stdout, getenv)
	if err != nil {
		return err
	}
	log = log.With("service", "echo-agent")
	cfg := natsconn.FromEnv(getenv)
	nc, err := natsconn.Connect(cfg, "echo-agent", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := echo.Run(ctx, nc, log); err != nil {
		return err
	}
	return drain(nc)
}

func drain(nc *nats.Conn) error {
	if err := nc.Drain(); err != nil && err != nats.ErrConnectionClosed {
		return err
	}
	return nil
}
