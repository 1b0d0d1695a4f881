package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"

	"github.com/relaybus/relaybus/examples/echo-agent/echo"
	"github.com/relaybus/relaybus/internal/devconnector"
	"github.com/relaybus/relaybus/internal/logging"
	"github.com/relaybus/relaybus/internal/natsconn"
	"github.com/relaybus/relaybus/internal/natsembed"
	"github.com/relaybus/relaybus/internal/ops"
	"github.com/relaybus/relaybus/services/egress/egress"
	"github.com/relaybus/relaybus/services/passthrough-converter/converter"
	"github.com/relaybus/relaybus/services/ws-edge/wsedge"
)

// allInOneConfig is the all-in-one process's own configuration; each stage
// reads its usual variables on top.
type allInOneConfig struct {
	DataDir          string // RELAY_DATA_DIR
	NATSListen       string // RELAY_NATS_LISTEN
	HTTPAddr         string // RELAY_HTTP_ADDR
	Dev              bool   // RELAY_DEV or --dev
	DevConnectorAddr string // RELAY_DEV_CONNECTOR_ADDR
	NoEcho           bool   // RELAY_DEV_NO_ECHO: dev mode without the echo agent
}

func loadAllInOne(args []string, getenv func(string) string, stderr io.Writer) (allInOneConfig, error) {
	c := allInOneConfig{
		DataDir:          envOr(getenv, "RELAY_DATA_DIR", "./data"),
		NATSListen:       envOr(getenv, "RELAY_NATS_LISTEN", "127.0.0.1:4222"),
		HTTPAddr:         envOr(getenv, "RELAY_HTTP_ADDR", "127.0.0.1:8080"),
		DevConnectorAddr: envOr(getenv, "RELAY_DEV_CONNECTOR_ADDR", "127.0.0.1:8090"),
	}
	var err error
	if v := getenv("RELAY_DEV"); v != "" {
		if c.Dev, err = strconv.ParseBool(v); err != nil {
			return c, fmt.Errorf("RELAY_DEV=%q: want 1 or 0", v)
		}
	}
	if v := getenv("RELAY_DEV_NO_ECHO"); v != "" {
		if c.NoEcho, err = strconv.ParseBool(v); err != nil {
			return c, fmt.Errorf("RELAY_DEV_NO_ECHO=%q: want 1 or 0", v)
		}
	}
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&c.Dev, "dev", c.Dev, "also run the dev connector and the echo agent (RELAY_DEV=1)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: relay [--dev]
       relay devconnector | tail | send | dlq | bench | version  (each has -h)

The all-in-one process: an embedded NATS server with JetStream plus the
ws-edge, passthrough-converter and egress stages.

Environment (besides each stage's own, see the README):
  RELAY_DATA_DIR            JetStream store (default ./data)
  RELAY_NATS_LISTEN         NATS client listener for agents (default 127.0.0.1:4222)
  RELAY_HTTP_ADDR           ops HTTP: /healthz /readyz /metrics (default 127.0.0.1:8080)
  RELAY_DEV=1               same as --dev
  RELAY_DEV_CONNECTOR_ADDR  dev connector listener (default 127.0.0.1:8090)
  GATEWAY_RELAY_URL         the connector (required unless --dev)
`)
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unknown subcommand %q (try relay -h)", fs.Arg(0))
	}
	if _, _, err := net.SplitHostPort(c.NATSListen); err != nil {
		return c, fmt.Errorf("RELAY_NATS_LISTEN=%q: want host:port", c.NATSListen)
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		return c, fmt.Errorf("RELAY_HTTP_ADDR=%q: want host:port", c.HTTPAddr)
	}
	return c, nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// overlay returns a getenv that answers the given keys first.
func overlay(getenv func(string) string, over map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := over[k]; ok {
			return v
		}
		return getenv(k)
	}
}

func runAllInOne(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	// Configuration.
	cfg, err := loadAllInOne(args, getenv, stderr)
	if err != nil {
		return err
	}
	log, err := logging.New(stdout, getenv)
	if err != nil {
		return err
	}
	log = log.With("service", "relay", "version", version)
	if getenv("GOMEMLIMIT") == "" {
		// From the start, so that the embedded server's store recovery is
		// already under it; governMemory takes over once the stages run.
		debug.SetMemoryLimit(defaultMemoryLimit)
	}

	// Dev connector: started first so that ws-edge's configuration can point at it.
	var dev *devconnector.Server
	if cfg.Dev {
		secret := randomHex(16)
		dev, err = devconnector.New(devconnector.Config{
			Addr:     cfg.DevConnectorAddr,
			Gateways: map[string]string{"dev-gateway": secret},
			Log:      log.With("component", "devconnector"),
		})
		if err != nil {
			return err
		}
		if err := dev.Start(); err != nil {
			return fmt.Errorf("starting dev connector: %w", err)
		}
		defer dev.Close()
		platforms := getenv("GATEWAY_RELAY_PLATFORMS")
		if platforms == "" {
			platforms = "discord"
		}
		getenv = overlay(getenv, map[string]string{
			"GATEWAY_RELAY_URL":       dev.URL(),
			"GATEWAY_RELAY_ID":        "dev-gateway",
			"GATEWAY_RELAY_SECRET":    secret,
			"GATEWAY_RELAY_PLATFORMS": platforms,
		})
	}
	edgeCfg, err := wsedge.ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	convCfg, err := converter.ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	egCfg, err := egress.ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	// One ops port for the process: the stages serve none of their own.
	edgeCfg.HTTPAddr, convCfg.HTTPAddr, egCfg.HTTPAddr = "", "", ""
	edgeCfg.Version, convCfg.Version, egCfg.Version = version, version, version
	log.Info("startup", "data_dir", cfg.DataDir, "nats_listen", cfg.NATSListen, "http_addr", cfg.HTTPAddr,
		"dev", cfg.Dev, "connector", edgeCfg.RelayURL, "platforms", edgeCfg.Platforms, "replicas", convCfg.Bus.Replicas)

	// Embedded NATS.
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("RELAY_DATA_DIR=%q: %w", cfg.DataDir, err)
	}
	ns, err := natsembed.Start(natsembed.Config{Listen: cfg.NATSListen, StoreDir: dataDir, Log: log.With("component", "nats")})
	if err != nil {
		return fmt.Errorf("starting embedded nats on %s: %w", cfg.NATSListen, err)
	}
	defer natsembed.Shutdown(ns)
	connect := func(name string) (*nats.Conn, error) {
		opts := append(natsconn.Options(name, log.With("conn", name)), nats.InProcessServer(ns))
		nc, err := nats.Connect("", opts...)
		if err != nil {
			return nil, fmt.Errorf("connecting %s to the embedded server: %w", name, err)
		}
		return nc, nil
	}

	// Stages, each on its own connection.
	reg := ops.NewRegistry()
	edgeNC, err := connect("ws-edge")
	if err != nil {
		return err
	}
	defer edgeNC.Close()
	convNC, err := connect("passthrough-converter")
	if err != nil {
		return err
	}
	defer convNC.Close()
	egNC, err := connect("egress")
	if err != nil {
		return err
	}
	defer egNC.Close()
	edge, err := wsedge.New(edgeCfg, wsedge.Deps{Log: log.With("stage", "ws-edge"), NC: edgeNC, Registerer: reg})
	if err != nil {
		return err
	}
	conv, err := converter.New(convCfg, converter.Deps{Log: log.With("stage", "converter"), NC: convNC, Registerer: reg})
	if err != nil {
		return err
	}
	eg, err := egress.New(egCfg, egress.Deps{Log: log.With("stage", "egress"), NC: egNC, Registerer: reg})
	if err != nil {
		return err
	}

	// Ops.
	o := ops.New(reg)
	o.AddLiveness(ops.Check{Name: "ws-edge", Fn: edge.Live}, ops.Check{Name: "converter", Fn: conv.Live}, ops.Check{Name: "egress", Fn: eg.Live})
	o.AddReadiness(ops.Check{Name: "nats", Fn: func(context.Context) error {
		if !ns.Running() || !ns.JetStreamEnabled() {
			return errors.New("embedded server not running")
		}
		return nil
	}}, ops.Check{Name: "ws-edge", Fn: edge.Ready}, ops.Check{Name: "converter", Fn: conv.Ready}, ops.Check{Name: "egress", Fn: eg.Ready})
	ln, err := ops.Listen(cfg.HTTPAddr)
	if err != nil {
		return err
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return governMemory(gctx, getenv, defaultMemoryLimit, 5*time.Second, log) })
	g.Go(func() error { return ops.Serve(gctx, ln, o.Handler(), log) })
	g.Go(func() error { return edge.Run(gctx) })
	g.Go(func() error { return conv.Run(gctx) })
	g.Go(func() error { return eg.Run(gctx) })
	if cfg.Dev && !cfg.NoEcho {
		agentNC, err := connect("echo-agent")
		if err != nil {
			return err
		}
		defer agentNC.Close()
		g.Go(func() error { return echo.Run(gctx, agentNC, log.With("component", "echo-agent")) })
	}
	if cfg.Dev {
		printDevBanner(stderr, dev, ns, ln.Addr().String())
	}
	err = g.Wait()
	log.Info("shutdown complete")
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func printDevBanner(w io.Writer, dev *devconnector.Server, ns *server.Server, opsAddr string) {
	fmt.Fprintf(w, `
relaybus is running in dev mode.
  NATS (agents connect here)   %s
  ops                          http://%s/readyz   http://%s/metrics
  dev connector                %s

Send a Discord interaction in, as Discord would POST it to the connector (from the repository root):
  curl -s -XPOST %s/interactions -H 'content-type: application/json' -d @internal/fixtures/discord/02_slash_command_options.json
Send a plain chat message in:
  curl -s -XPOST %s/inbound -d '{"text":"hello","source":{"platform":"discord","chat_id":"c1","chat_type":"group","user_id":"u1","scope_id":"g1"}}'
Watch the events agents get:     go run ./cmd/relay tail
See the echo agent's replies:    curl -s %s/outbound
Stop with Ctrl-C.

`, ns.ClientURL(), opsAddr, opsAddr, dev.URL(), dev.URL(), dev.URL(), dev.URL())
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var _ = slog.Default
