// Command relay is relaybus in one binary.
//
//	relay                 all-in-one: embedded NATS (JetStream) + ws-edge + converter + egress
//	relay --dev           the same, plus the dev connector and the echo agent (RELAY_DEV=1)
//	relay devconnector    a local stand-in for the connector
//	relay tail            print inbound events as JSON lines
//	relay send            publish a reply action and print its result
//	relay dlq             list, show, replay or purge dead letters
//	relay keys DIR        the NATS identities' seeds and public keys, for a server of your own
//	relay bench           measure the pipeline against the raw JetStream ceiling
//	relay healthcheck     exit 0 when the relay beside it answers (a container's HEALTHCHECK)
//
// Every subcommand has -h.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/relaybus/relaybus/cmd/relay/internal/bench"
	"github.com/relaybus/relaybus/internal/stage"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "relay:", err)
		}
		os.Exit(1)
	}
}

// run dispatches to a subcommand; with none (or only flags) it runs the
// all-in-one process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "devconnector":
			return runDevConnector(ctx, args[1:], getenv, stdout, stderr)
		case "tail":
			return runTail(ctx, args[1:], getenv, stdout, stderr)
		case "send":
			return runSend(ctx, args[1:], getenv, stdout, stderr)
		case "dlq":
			return runDLQ(ctx, args[1:], getenv, stdout, stderr)
		case "keys":
			return runKeys(args[1:], getenv, stdout, stderr)
		case "bench":
			return bench.Run(ctx, args[1:], getenv, stdout, stderr)
		case "healthcheck":
			return runHealthcheck(ctx, args[1:], getenv, stderr)
		case "version":
			fmt.Fprintln(stdout, stage.Version)
			return nil
		}
	}
	return runAllInOne(ctx, args, getenv, stderr)
}
