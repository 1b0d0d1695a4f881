package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/relaybus/relaybus/cmd/relay/internal/echo"
	"github.com/relaybus/relaybus/cmd/relay/internal/memlimit"
	"github.com/relaybus/relaybus/cmd/relay/internal/stack"
	"github.com/relaybus/relaybus/internal/devconnector"
	"github.com/relaybus/relaybus/internal/logging"
	"github.com/relaybus/relaybus/internal/natsauth"
	"github.com/relaybus/relaybus/internal/natsembed"
	"github.com/relaybus/relaybus/internal/stage"
)

// allInOneConfig is the all-in-one process's own configuration; each stage
// reads its usual variables on top.
type allInOneConfig struct {
	DataDir          string // RELAY_DATA_DIR
	NATSListen       string // RELAY_NATS_LISTEN
	HTTPAddr         string // RELAY_HTTP_ADDR
	Pprof            bool   // RELAY_PPROF
	Dev              bool   // RELAY_DEV or --dev
	DevConnectorAddr string // RELAY_DEV_CONNECTOR_ADDR
	NoEcho           bool   // RELAY_DEV_NO_ECHO: dev mode without the echo agent
	Auth             bool   // RELAY_NATS_AUTH (default on): the server's authorization
	AllowInsecure    bool   // RELAY_NATS_ALLOW_INSECURE or --allow-insecure: listen beyond loopback without auth
}

func loadAllInOne(args []string, getenv func(string) string, stderr io.Writer) (allInOneConfig, error) {
	c := allInOneConfig{
		DataDir:          envOr(getenv, "RELAY_DATA_DIR", "./data"),
		NATSListen:       envOr(getenv, "RELAY_NATS_LISTEN", "127.0.0.1:4222"),
		HTTPAddr:         envOr(getenv, "RELAY_HTTP_ADDR", "127.0.0.1:8080"),
		DevConnectorAddr: envOr(getenv, "RELAY_DEV_CONNECTOR_ADDR", "127.0.0.1:8090"),
		Auth:             true,
	}
	var err error
	for _, b := range []struct {
		name string
		dst  *bool
	}{{"RELAY_NATS_AUTH", &c.Auth}, {"RELAY_NATS_ALLOW_INSECURE", &c.AllowInsecure}} {
		if v := strings.TrimSpace(getenv(b.name)); v != "" {
			if *b.dst, err = strconv.ParseBool(v); err != nil {
				return c, fmt.Errorf("%s=%q: want 1 or 0", b.name, v)
			}
		}
	}
	if v := getenv("RELAY_DEV"); v != "" {
		if c.Dev, err = strconv.ParseBool(v); err != nil {
			return c, fmt.Errorf("RELAY_DEV=%q: want 1 or 0", v)
		}
	}
	if v := getenv("RELAY_PPROF"); v != "" {
		if c.Pprof, err = strconv.ParseBool(v); err != nil {
			return c, fmt.Errorf("RELAY_PPROF=%q: want 1 or 0", v)
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
	fs.BoolVar(&c.AllowInsecure, "allow-insecure", c.AllowInsecure, "let NATS listen beyond loopback without authorization (RELAY_NATS_ALLOW_INSECURE=1)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: relay [--dev] [--allow-insecure]
       relay devconnector | tail | send | dlq | keys | bench | version  (each has -h)

The all-in-one process: an embedded NATS server with JetStream plus the
ws-edge, passthrough-converter and egress stages.

Environment (besides each stage's own, see the README):
  RELAY_DATA_DIR            JetStream store (default ./data)
  RELAY_NATS_LISTEN         NATS client listener for agents (default 127.0.0.1:4222)
  RELAY_NATS_AUTH=0         no authorization on NATS (default on: nkey identities
                            stage, agent, operator; seeds in RELAY_DATA_DIR/creds)
  RELAY_STAGE_NKEY, RELAY_AGENT_NKEY, RELAY_OPERATOR_NKEY
                            an identity's seed file or public key (else generated)
  RELAY_AGENT_NAMES         partitioned agents the agent identity may run
  RELAY_NATS_ALLOW_INSECURE=1  same as --allow-insecure
  RELAY_HTTP_ADDR           ops HTTP: /healthz /readyz /metrics (default 127.0.0.1:8080)
  RELAY_PPROF=1             also serve /debug/pprof/ there (off by default)
  RELAY_DEV=1               same as --dev
  RELAY_DEV_CONNECTOR_ADDR  dev connector listener (default 127.0.0.1:8090)
  GATEWAY_RELAY_URL         the connector (required unless --dev)
  LOG_LEVEL, LOG_FORMAT     debug|info|warn|error; json|text (default: text on a
                            terminal, json otherwise). Logs go to stderr.
`)
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unknown subcommand %q (try relay -h)", fs.Arg(0))
	}
	host, _, err := net.SplitHostPort(c.NATSListen)
	if err != nil {
		return c, fmt.Errorf("RELAY_NATS_LISTEN=%q: want host:port", c.NATSListen)
	}
	if !c.Auth && !loopback(host) && !c.AllowInsecure {
		return c, fmt.Errorf("RELAY_NATS_LISTEN=%q without authorization (RELAY_NATS_AUTH=0) lets anyone who reaches it forge frames, actions and results: listen on 127.0.0.1, keep authorization on, or pass --allow-insecure (RELAY_NATS_ALLOW_INSECURE=1)", c.NATSListen)
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		return c, fmt.Errorf("RELAY_HTTP_ADDR=%q: want host:port", c.HTTPAddr)
	}
	return c, nil
}

// loopback reports whether host names only the loopback interface ("" and
// 0.0.0.0 are every interface).
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
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

// runAllInOne runs the all-in-one process: the stack (embedded NATS, the
// three stages, one ops port), plus in dev mode a dev connector and the
// echo agent. It logs to stderr (human-readable on a terminal).
func runAllInOne(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	// Configuration.
	cfg, err := loadAllInOne(args, getenv, stderr)
	if err != nil {
		return err
	}
	log, err := logging.New(stderr, getenv)
	if err != nil {
		return err
	}
	log = log.With("service", "relay", "version", stage.Version)
	if getenv("GOMEMLIMIT") == "" {
		// From the start, so that the embedded server's store recovery is
		// already under it; memlimit.Govern takes over once the stages run.
		debug.SetMemoryLimit(memlimit.Default)
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
	stages, err := stack.StagesFromEnv(getenv)
	if err != nil {
		return err
	}
	log.Info("startup", "data_dir", cfg.DataDir, "nats_listen", cfg.NATSListen, "http_addr", cfg.HTTPAddr,
		"dev", cfg.Dev, "connector", stages.Edge.RelayURL, "platforms", stages.Edge.Platforms, "replicas", stages.Converter.Bus.Replicas)
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("RELAY_DATA_DIR=%q: %w", cfg.DataDir, err)
	}
	var keys *natsauth.Keys
	if cfg.Auth {
		k, err := natsauth.Load(natsauth.Dir(dataDir), getenv)
		if err != nil {
			return err
		}
		keys = &k
		for _, id := range natsauth.Identities {
			key := keys.Of(id)
			// The public key only: the seed never reaches a log.
			log.Info("nats identity", "identity", id, "public_key", key.Public, "seed_file", key.SeedFile, "generated", key.Generated)
		}
		if cfg.Dev && !cfg.NoEcho && keys.Agent.SeedFile == "" {
			return fmt.Errorf("%s is a public key: --dev's echo agent needs the agent's seed file (or set RELAY_DEV_NO_ECHO=1)", natsauth.EnvName(natsauth.Agent))
		}
	} else {
		host, _, _ := net.SplitHostPort(cfg.NATSListen)
		if loopback(host) {
			log.Warn("nats authorization is off (RELAY_NATS_AUTH=0): any local process can forge frames, actions and results")
		} else {
			log.Error("nats listens beyond loopback without authorization", "nats_listen", cfg.NATSListen,
				"risk", "anyone who reaches it owns the relay: forged frames, actions and results")
			fmt.Fprintf(stderr, "\n*** WARNING: NATS ON %s ACCEPTS ANYONE (RELAY_NATS_AUTH=0 with --allow-insecure): ANYONE WHO REACHES IT OWNS THE RELAY. ***\n\n", cfg.NATSListen)
		}
	}

	// The stack, then what runs beside it.
	s, err := stack.Start(ctx, stack.Config{
		Stages:   stages,
		NATS:     natsembed.Config{Listen: cfg.NATSListen, StoreDir: dataDir},
		Auth:     keys,
		HTTPAddr: cfg.HTTPAddr,
		Pprof:    cfg.Pprof,
		Log:      log,
	})
	if err != nil {
		return err
	}
	s.Go(func(ctx context.Context) error {
		return memlimit.Govern(ctx, getenv, memlimit.Default, 5*time.Second, log)
	})
	if cfg.Dev && !cfg.NoEcho {
		agentNC, err := s.ConnectAs(echo.Name, natsauth.Agent)
		if err != nil {
			s.Stop()
			return err
		}
		s.Go(func(ctx context.Context) error {
			// Once the streams are there, so that its first look finds them.
			for s.Converter.Ready(ctx) != nil {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(50 * time.Millisecond):
				}
			}
			return echo.Run(ctx, agentNC, log.With("component", "echo-agent"))
		})
	}
	if cfg.Dev {
		printDevBanner(stderr, dev, s.NATS.ClientURL(), s.Addr(), keys)
	}
	err = s.Wait()
	log.Info("shutdown complete")
	return err
}

func printDevBanner(w io.Writer, dev *devconnector.Server, natsURL, opsAddr string, keys *natsauth.Keys) {
	agentCreds, cliCreds := "  (authorization off: no credentials)\n", ""
	if keys != nil {
		agentCreds = "  agent credentials            NATS_NKEY=" + keys.Agent.SeedFile + "\n"
		if keys.Agent.SeedFile == "" {
			agentCreds = "  agent identity               " + keys.Agent.Public + " (its seed is yours)\n"
		}
		if keys.Operator.SeedFile != "" {
			cliCreds = "  operator credentials (CLI)   NATS_NKEY=" + keys.Operator.SeedFile + " (the CLI finds it in RELAY_DATA_DIR)\n"
		}
	}
	fmt.Fprintf(w, `
relaybus is running in dev mode.
  NATS (agents connect here)   NATS_URL=%s
`+strings.ReplaceAll(agentCreds+cliCreds, "%", "%%")+`  ops                          http://%s/readyz   http://%s/metrics
  dev connector                %s

Send a Discord interaction in, as Discord would POST it to the connector (from the repository root):
  curl -s -XPOST %s/interactions -H 'content-type: application/json' -d @internal/fixtures/discord/02_slash_command_options.json
Send a plain chat message in:
  curl -s -XPOST %s/inbound -d '{"text":"hello","source":{"platform":"discord","chat_id":"c1","chat_type":"group","user_id":"u1","scope_id":"g1"}}'
Watch the events agents get:     go run ./cmd/relay tail
See the echo agent's replies:    curl -s %s/outbound
Stop with Ctrl-C.

`, natsURL, opsAddr, opsAddr, dev.URL(), dev.URL(), dev.URL(), dev.URL())
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
