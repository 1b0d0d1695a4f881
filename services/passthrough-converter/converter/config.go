package converter

import (
	"errors"
	"log/slog"
	"time"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/envconf"
	"github.com/relaybus/relaybus/internal/stage"
	"github.com/relaybus/relaybus/pkg/events"
)

// Config configures the converter. Each field's variable, default, limits
// and meaning are declared once, in vars.
type Config struct {
	Durable    string        // CONVERTER_DURABLE
	Workers    int           // CONVERTER_WORKERS
	MaxDeliver int           // CONVERTER_MAX_DELIVER
	AckWait    time.Duration // CONVERTER_ACK_WAIT
	// ScopeCacheSize bounds the per-replica memory of written scope records
	// (CONVERTER_SCOPE_CACHE).
	ScopeCacheSize int
	// Identities are GATEWAY_RELAY_PLATFORMS with GATEWAY_RELAY_BOT_IDS:
	// the bot id recorded with an inbound chat's scope, so that egress can
	// reply under the identity the chat's traffic came in on.
	Identities events.Identities
	// HTTPAddr is CONVERTER_HTTP_ADDR: the binary's ops port, served by the
	// lifecycle (package stage); the Service serves none.
	HTTPAddr string
	// Pprof is CONVERTER_PPROF: serve /debug/pprof on the ops port (off by
	// default).
	Pprof   bool
	Version string
	// Bus shapes the streams and buckets (the RELAY_* variables).
	Bus             bus.Config
	ShutdownTimeout time.Duration // CONVERTER_SHUTDOWN_TIMEOUT
}

// vars declares the converter's variables, bound to c's fields, then the
// bus's. The README's table is generated from it (TestREADME).
func (c *Config) vars() []envconf.Var {
	vars := []envconf.Var{
		envconf.V("CONVERTER_DURABLE", &c.Durable, "passthrough-converter",
			"name of the durable consumer on `RELAY_RAW` that every replica shares"),
		envconf.V("CONVERTER_WORKERS", &c.Workers, 64,
			"concurrent conversions per replica").Min(1).Max(4096),
		envconf.V("CONVERTER_MAX_DELIVER", &c.MaxDeliver, 10,
			"deliveries before a frame that keeps failing (NATS trouble, not bad input) is dead-lettered").Min(1),
		envconf.V("CONVERTER_ACK_WAIT", &c.AckWait, 5*time.Second,
			"how late a crashed replica's in-flight frames reach another replica; "+
				"frames queued in a live replica are kept alive").Min(time.Second),
		envconf.V("CONVERTER_SCOPE_CACHE", &c.ScopeCacheSize, 100_000,
			"chats whose scope this replica remembers, so that an unchanged one costs no KV write").Min(1),
		envconf.V("CONVERTER_SHUTDOWN_TIMEOUT", &c.ShutdownTimeout, 10*time.Second,
			"how long in-flight frames may take on shutdown").Positive(),
	}
	vars = append(vars, envconf.Identities(&c.Identities,
		"comma list of the fronted identities, as ws-edge reads it",
		"the bot id of each platform (`{\"discord\":{\"botId\":\"123\"}}`), recorded with each chat's scope "+
			"so that egress replies under the identity the chat's traffic came in on")...)
	vars = append(vars, envconf.Ops("CONVERTER", "8082", &c.HTTPAddr, &c.Pprof)...)
	return append(vars, c.Bus.Vars()...)
}

// config is what the converter's configuration shares with every stage's.
var config = stage.ConfigSpec[Config]{
	Vars:    (*Config).vars,
	Version: func(c *Config) *string { return &c.Version },
	Check:   Config.check,
	Invalid: ErrInvalidConfig,
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config { return config.Default() }

// Validate checks the settings; errors wrap ErrInvalidConfig and name the
// variable to fix.
func (c Config) Validate() error { return config.Validate(c) }

// check is the converter's own rules beyond the declared limits.
func (c Config) check() error {
	if c.Durable == "" {
		return errors.New("CONVERTER_DURABLE is empty")
	}
	return nil
}

// ConfigFromEnv overlays the environment on DefaultConfig and validates.
func ConfigFromEnv(getenv func(string) string) (Config, error) { return config.FromEnv(getenv) }

// LogValue renders the configuration for the startup log, under the
// variables' names.
func (c Config) LogValue() slog.Value { return config.LogValue(c) }
