package egress

import (
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/envconf"
	"github.com/relaybus/relaybus/internal/stage"
	"github.com/relaybus/relaybus/pkg/events"
)

// Config holds the egress settings. Build it with [DefaultConfig] or
// [ConfigFromEnv]; [Config.Validate] checks it. Each field's variable,
// default, limits and meaning are declared once, in vars.
type Config struct {
	// Workers is EGRESS_WORKERS. Actions of one chat always go through the
	// same worker, in order.
	Workers int
	// ActionDeadline is EGRESS_ACTION_DEADLINE. An action may shorten or
	// extend it with the Relay-Deadline header.
	ActionDeadline time.Duration
	// MaxDeadline is EGRESS_MAX_DEADLINE: the latest a Relay-Deadline may
	// reach, from when the action was stored, so that actions cannot pile
	// up behind a connector that is down.
	MaxDeadline time.Duration
	EdgeTimeout time.Duration // EGRESS_EDGE_TIMEOUT
	// AckWait is EGRESS_ACK_WAIT. The consume loop tells the server every
	// AckWait/3 that an action in hand is still in progress, so a long
	// request or split send keeps it; this bounds how late a crashed
	// replica's actions come back, and how long a partition waits for
	// deliveries lost in a NATS fault (a pull that missed its heartbeat)
	// before its chats go on.
	AckWait time.Duration
	// RetryBase and RetryMax are EGRESS_RETRY_BASE and EGRESS_RETRY_MAX: an
	// undelivered action is retried after RetryBase·2^(n-1), capped at
	// RetryMax.
	RetryBase, RetryMax time.Duration
	// PrimaryPlatform is the first of Identities: the platform assumed for
	// an action whose chat is known on several platforms, and whose
	// descriptor applies when nothing else names one. Empty: the first
	// descriptor stored in relay_descriptor.
	PrimaryPlatform string
	// Identities are GATEWAY_RELAY_PLATFORMS with GATEWAY_RELAY_BOT_IDS,
	// as ws-edge reads them. With more than one, every outbound frame is
	// tagged with the platform and bot id the chat's traffic came in on
	// (contract §6 "Identity of a reply"); with one or none, nothing is
	// added.
	Identities events.Identities
	// HTTPAddr is EGRESS_HTTP_ADDR: the binary's ops port, served by the
	// lifecycle (package stage); the Service serves none.
	HTTPAddr string
	// Pprof is EGRESS_PPROF: serve /debug/pprof on the ops port (off by
	// default).
	Pprof bool
	// Version is the service version (SemVer), reported by the micro
	// service registration.
	Version string
	// Bus shapes the streams and buckets (the RELAY_* variables).
	Bus             bus.Config
	ShutdownTimeout time.Duration // EGRESS_SHUTDOWN_TIMEOUT
	// MaxParts is EGRESS_MAX_PARTS: the most messages a send is split into.
	MaxParts int
	// ScopeCacheSize is EGRESS_SCOPE_CACHE: the most chat × platform scope
	// records a replica keeps in memory (least recently used forgotten
	// first; a miss costs one KV get).
	ScopeCacheSize int
}

// vars declares egress's variables, bound to c's fields, then the bus's.
// The README's table is generated from it (TestREADME).
func (c *Config) vars() []envconf.Var {
	vars := []envconf.Var{
		envconf.V("EGRESS_WORKERS", &c.Workers, 64,
			"actions handled at once; one chat's in order").Min(1).Max(4096),
		envconf.V("EGRESS_ACTION_DEADLINE", &c.ActionDeadline, 15*time.Minute,
			"how long an undeliverable action is retried, from when it was stored (the life of a Discord interaction token); "+
				"`Relay-Deadline` overrides it per action").Min(time.Second),
		envconf.V("EGRESS_MAX_DEADLINE", &c.MaxDeadline, 15*time.Minute,
			"the latest a `Relay-Deadline` may reach, from when the action was stored: a later one is cut to it").Min(time.Second),
		envconf.V("EGRESS_EDGE_TIMEOUT", &c.EdgeTimeout, 35*time.Second,
			"one `relay.edge.outbound` request: ws-edge's own 30 s outbound timeout plus a margin, "+
				"so that ws-edge reports the ambiguous timeout itself").Min(time.Second),
		envconf.V("EGRESS_ACK_WAIT", &c.AckWait, 15*time.Second,
			"the consumer's ack wait: a crashed replica's actions, and deliveries lost in a NATS fault, are redelivered after it "+
				"(their partition waits for them meanwhile); actions in hand report progress every third of it").Min(time.Second),
		envconf.V("EGRESS_RETRY_BASE", &c.RetryBase, 250*time.Millisecond,
			"first retry delay of an undelivered action; the n-th is `base·2^(n-1)`").Positive(),
		envconf.V("EGRESS_RETRY_MAX", &c.RetryMax, 30*time.Second,
			"cap on the retry delay; at least `EGRESS_RETRY_BASE`").Positive(),
		envconf.V("EGRESS_SHUTDOWN_TIMEOUT", &c.ShutdownTimeout, 10*time.Second,
			"in-flight actions may finish this long after SIGTERM").Positive(),
		envconf.V("EGRESS_MAX_PARTS", &c.MaxParts, 20,
			"the most platform messages one `send` may be split into (each up to the descriptor's `max_message_length`); "+
				"a longer send fails at once with code `oversized`, nothing sent").Min(1).Max(1000),
		envconf.V("EGRESS_SCOPE_CACHE", &c.ScopeCacheSize, 100_000,
			"scope records (chat × platform) kept in memory per replica; the least recently used is forgotten first "+
				"and read back from the `relay_scope` bucket when needed").Min(1),
	}
	vars = append(vars, envconf.Identities(&c.Identities,
		"comma list of identities; its first entry is the primary platform: the chat's platform when a chat id is known "+
			"on several platforms, and whose descriptor applies when nothing else names one (unset: the first descriptor stored). "+
			"With two or more entries, every outbound frame is tagged with its chat's identity",
		"the bot id of each platform (`{\"discord\":{\"botId\":\"123\"}}`), used when a chat's record names none")...)
	vars = append(vars, envconf.Ops("EGRESS", "8083", &c.HTTPAddr, &c.Pprof)...)
	return append(vars, c.Bus.Vars()...)
}

// config is what egress's configuration shares with every stage's.
var config = stage.ConfigSpec[Config]{
	Vars:    (*Config).vars,
	Version: func(c *Config) *string { return &c.Version },
	Check:   Config.check,
	Invalid: ErrInvalidConfig,
}

// DefaultConfig returns the default settings.
func DefaultConfig() Config { return config.Default() }

// Validate checks the settings. Errors wrap [ErrInvalidConfig] and name the
// environment variable to fix.
func (c Config) Validate() error { return config.Validate(c) }

// check is egress's own rules beyond the declared limits.
func (c Config) check() error {
	if c.RetryMax < c.RetryBase {
		return fmt.Errorf("EGRESS_RETRY_MAX=%v: want at least EGRESS_RETRY_BASE (%v)", c.RetryMax, c.RetryBase)
	}
	if c.HTTPAddr != "" {
		if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
			return fmt.Errorf("EGRESS_HTTP_ADDR=%q: want host:port, like :8083", c.HTTPAddr)
		}
	}
	return nil
}

// ConfigFromEnv overlays the environment on [DefaultConfig] and validates
// the result.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c, err := config.FromEnv(getenv)
	c.PrimaryPlatform = c.Identities.Primary()
	return c, err
}

// LogValue renders the configuration for the startup log, under the
// variables' names.
func (c Config) LogValue() slog.Value { return config.LogValue(c) }
