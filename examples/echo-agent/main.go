// Command echo-agent is relaybus's example agent, written as any agent is:
// with the Go client in pkg/agent and the contract in pkg/events, and
// nothing else of relaybus, so that it can be copied as the start of your
// own. It connects to NATS_URL (default nats://127.0.0.1:4222) as the
// relay's agent identity — NATS_NKEY names its seed file (`relay --dev`
// prints it), or NATS_CREDS a credentials file; NATS_TLS_CA verifies the
// server, NATS_TLS_CERT and NATS_TLS_KEY present a client certificate —,
// takes every event through its durable
// consumer "echo-agent", and answers each with what it understood: the
// text of a message, the command of a slash command, the choice of a
// component, the fields of a submitted form.
//
// ECHO_AGENT_PARTITIONS=N (N > 0) runs it partitioned (agent.Options
// Partitions): each chat's events are answered in order with any number of
// replicas and through NATS faults. On a relay with authorization the
// relay must allow it: RELAY_AGENT_NAMES=echo-agent (docker-compose.yml
// does both).
//
// `relay --dev` runs a richer echo of its own (cmd/relay/internal/echo).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
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
	auth, err := authOptions(getenv)
	if err != nil {
		return err
	}
	nc, err := nats.Connect(url, append(opts, auth...)...)
	if err != nil {
		return err
	}
	defer nc.Drain()

	partitions := 0
	if v := getenv("ECHO_AGENT_PARTITIONS"); v != "" {
		if partitions, err = strconv.Atoi(v); err != nil {
			return fmt.Errorf("ECHO_AGENT_PARTITIONS=%q: want a whole number", v)
		}
	}
	c, err := agent.New(nc, agent.Options{
		Name:         "echo-agent",
		DeliverAll:   true, // on the first start, answer what is already waiting
		Partitions:   partitions,
		ErrorHandler: func(err error) { log.Warn("agent problem", "err", err) },
	})
	if err != nil {
		return err
	}
	log.Info("echo agent running", "partitions", partitions)
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

// authOptions are the connection's credentials from the environment:
// NATS_NKEY (a user nkey seed file: the relay's agent identity) or
// NATS_CREDS (a credentials file), NATS_TLS_CA, NATS_TLS_CERT with
// NATS_TLS_KEY.
func authOptions(getenv func(string) string) ([]nats.Option, error) {
	var opts []nats.Option
	if seed := getenv("NATS_NKEY"); seed != "" {
		opt, err := nats.NkeyOptionFromSeed(seed)
		if err != nil {
			return nil, fmt.Errorf("NATS_NKEY=%q: %w", seed, err)
		}
		opts = append(opts, opt)
	}
	if creds := getenv("NATS_CREDS"); creds != "" {
		opts = append(opts, nats.UserCredentials(creds))
	}
	if ca := getenv("NATS_TLS_CA"); ca != "" {
		opts = append(opts, nats.RootCAs(ca))
	}
	cert, key := getenv("NATS_TLS_CERT"), getenv("NATS_TLS_KEY")
	if (cert == "") != (key == "") {
		return nil, fmt.Errorf("NATS_TLS_CERT and NATS_TLS_KEY go together: set both or neither")
	}
	if cert != "" {
		opts = append(opts, nats.ClientCert(cert, key))
	}
	return opts, nil
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
