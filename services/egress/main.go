// Command egress runs the relaybus egress stage against NATS_URL: it turns
// agents' reply actions (relay.outbound.<op>) into outbound frames through
// ws-edge and publishes their results. See README.md for the environment;
// the lifecycle (ops port first, then NATS, then the stage) is package
// stage's.
package main

import (
	"context"
	"io"

	"github.com/relaybus/relaybus/internal/stage"
	"github.com/relaybus/relaybus/services/egress/egress"
)

func main() { stage.Main(run) }

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := egress.ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	cfg.Version = stage.Version
	return stage.Run(ctx, getenv, stdout, stage.Spec{Name: egress.Name, HTTPAddr: cfg.HTTPAddr, Pprof: cfg.Pprof, Config: cfg,
		New: func(d stage.Deps) (stage.Service, error) {
			return egress.New(cfg, d)
		}})
}
