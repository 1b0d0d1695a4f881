// Command ws-edge runs relaybus's ws-edge stage against NATS_URL: it holds
// the connector WebSocket and publishes every frame to JetStream. See
// wsedge's package documentation and README.md for the settings; the
// lifecycle (ops port first, then NATS, then the stage) is package stage's.
package main

import (
	"context"
	"io"

	"github.com/relaybus/relaybus/internal/stage"
	"github.com/relaybus/relaybus/services/ws-edge/wsedge"
)

func main() { stage.Main(run) }

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := wsedge.ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	cfg.Version = stage.Version
	return stage.Run(ctx, getenv, stdout, stage.Spec{Name: "ws-edge", HTTPAddr: cfg.HTTPAddr, Pprof: cfg.Pprof, Config: cfg,
		New: func(d stage.Deps) (stage.Service, error) {
			return wsedge.New(cfg, d)
		}})
}
