// Command passthrough-converter runs the converter stage: raw connector
// frames from RELAY_RAW in, normalized MessageEvents on relay.inbound.* out,
// chat scope recorded in KV relay_scope. See README.md; the lifecycle (ops
// port first, then NATS, then the stage) is package stage's.
package main

import (
	"context"
	"io"

	"github.com/relaybus/relaybus/internal/stage"
	"github.com/relaybus/relaybus/services/passthrough-converter/converter"
)

func main() { stage.Main(run) }

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := converter.ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	cfg.Version = stage.Version
	return stage.Run(ctx, getenv, stdout, stage.Spec{Name: "passthrough-converter", HTTPAddr: cfg.HTTPAddr, Pprof: cfg.Pprof, Config: cfg,
		New: func(d stage.Deps) (stage.Service, error) {
			return converter.New(cfg, d)
		}})
}
