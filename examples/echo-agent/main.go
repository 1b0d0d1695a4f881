// Command echo-agent is relaybus's example agent, written as any agent is:
// with the Go client in pkg/agent and the contract in pkg/events, and
// nothing else of relaybus, so that it can be copied as the start of your
// own. It connects to NATS_URL (default nats://127.0.0.1:4222; NATS_CREDS
// names a credentials file), takes every event through its durable
// consumer "echo-agent", and answers each with what it understood: the
// text of a message, the command of a slash command, the choice of a
// component, the fields of a submitted form.
//
// `relay --dev` runs a richer echo of its own (cmd/relay/internal/echo).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/nats-io/nats.go"

	"github.com/relaybus/relaybus/pkg/agent"
	"github.com/relaybus/relaybus/pkg/events"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil)).With("service", "echo-agent")
	err := run(ctx, os.Getenv, log)
	stop()
	if err != nil {
		log.Error("stopped", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, log *slog.Logger) error {
	url := getenv("NATS_URL")
	if url == "" {
		url = nats.DefaultURL
	}
	// Keep trying while the server is away: events wait in the stream.
	opts := []nats.Option{nats.Name("echo-agent"), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true)}
	if creds := getenv("NATS_CREDS"); creds != "" {
		opts = append(opts, nats.UserCredentials(creds))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return err
	}
	defer nc.Drain()

	c, err := agent.New(nc, agent.Options{
		Name:         "echo-agent",
		DeliverAll:   true, // on the first start, answer what is already waiting
		ErrorHandler: func(err error) { log.Warn("agent problem", "err", err) },
	})
	if err != nil {
		return err
	}
	log.Info("echo agent running")
	return c.Run(ctx, func(ctx context.Context, ev *agent.Event) error {
		res, err := ev.Reply(ctx, answer(&ev.MessageEvent))
		if err != nil {
			return err // no result in time: the event comes again, and the reply keeps its id
		}
		if !res.Success {
			log.Warn("reply not delivered", "chat_id", ev.Source.ChatID, "error", res.Error)
		}
		return nil
	})
}

// answer is the reply to an event.
func answer(ev *events.MessageEvent) string {
	switch in := ev.Interaction; {
	case in != nil && in.Command != nil:
		return "you ran /" + strings.Join(in.Command.Path, " ")
	case in != nil && in.Component != nil:
		return fmt.Sprintf("you used %s %q", in.Component.Type, in.Component.CustomID)
	case in != nil && in.Modal != nil:
		return fmt.Sprintf("you submitted %s with %d fields", in.Modal.CustomID, len(in.Modal.Fields))
	}
	return "echo: " + ev.Text
}
