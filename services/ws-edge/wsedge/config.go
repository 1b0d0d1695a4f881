package wsedge

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/envconf"
	"github.com/relaybus/relaybus/internal/stage"
	"github.com/relaybus/relaybus/pkg/wire"
)

// Config holds ws-edge's settings. Build it with DefaultConfig or
// ConfigFromEnv; each field's variable, default, limits and meaning are
// declared once, in vars.
type Config struct {
	RelayURL    string   // GATEWAY_RELAY_URL, required; normalised with wire.DialURL
	RelayID     string   // GATEWAY_RELAY_ID
	RelaySecret string   // GATEWAY_RELAY_SECRET
	Platforms   []string // GATEWAY_RELAY_PLATFORMS
	BotIDs      string   // GATEWAY_RELAY_BOT_IDS, as given
	InstanceID  string   // WSEDGE_INSTANCE_ID; empty: New picks one

	MaxFrameBytes  int           // WSEDGE_MAX_FRAME_BYTES
	PublishWindow  int           // WSEDGE_PUBLISH_WINDOW
	PublishTimeout time.Duration // WSEDGE_PUBLISH_TIMEOUT
	PublishRetries int           // WSEDGE_PUBLISH_RETRIES

	OutboundTimeout     time.Duration // WSEDGE_OUTBOUND_TIMEOUT
	OutboundConcurrency int           // WSEDGE_OUTBOUND_CONCURRENCY

	DialTimeout      time.Duration // WSEDGE_DIAL_TIMEOUT
	HandshakeTimeout time.Duration // WSEDGE_HANDSHAKE_TIMEOUT
	PingInterval     time.Duration // WSEDGE_PING_INTERVAL
	PongTimeout      time.Duration // WSEDGE_PONG_TIMEOUT
	WriteTimeout     time.Duration // WSEDGE_WRITE_TIMEOUT
	BackoffMin       time.Duration // WSEDGE_BACKOFF_MIN
	BackoffMax       time.Duration // WSEDGE_BACKOFF_MAX
	StableAfter      time.Duration // WSEDGE_STABLE_AFTER
	IdleTimeout      time.Duration // WSEDGE_IDLE_TIMEOUT
	AckHorizon       time.Duration // WSEDGE_ACK_HORIZON

	// HTTPAddr is the binary's ops port (WSEDGE_HTTP_ADDR), served by the
	// lifecycle (package stage); the Service serves none.
	HTTPAddr string
	// Pprof is WSEDGE_PPROF: serve /debug/pprof on the ops port (off by
	// default).
	Pprof bool
	// Version is the micro service version (SemVer).
	Version string
	// Bus shapes the streams and buckets (the RELAY_* variables).
	Bus             bus.Config
	ShutdownTimeout time.Duration // WSEDGE_SHUTDOWN_TIMEOUT
}

// vars declares ws-edge's variables, bound to c's fields, then the bus's.
// The README's table is generated from it (TestREADME).
func (c *Config) vars() []envconf.Var {
	return append([]envconf.Var{
		envconf.V("GATEWAY_RELAY_URL", &c.RelayURL, "",
			"**required**: the connector base URL; `https://c.example` dials `wss://c.example/relay`"),
		envconf.V("GATEWAY_RELAY_ID", &c.RelayID, "",
			"gateway credential id; a fresh 300 s token is minted for every dial. "+
				"With it or the secret unset the dial is unauthenticated (dev connectors only, logged as a warning)"),
		envconf.V("GATEWAY_RELAY_SECRET", &c.RelaySecret, "",
			"gateway credential secret, taken as given; it must contain a non-space character").Raw().Secret(),
		envconf.V("GATEWAY_RELAY_PLATFORMS", &c.Platforms, nil,
			"comma list of the fronted identities, in order, the first primary; one `hello` each; unset: `relay`"),
		envconf.V("GATEWAY_RELAY_BOT_IDS", &c.BotIDs, "",
			"JSON map `{\"discord\":{\"botId\":\"123\"}}`; bad JSON reads as empty (logged), a missing entry as an empty bot id"),
		envconf.V("WSEDGE_INSTANCE_ID", &c.InstanceID, "",
			"value of the `Relay-Edge` header; unset: hostname plus a short random suffix"),
		envconf.V("WSEDGE_MAX_FRAME_BYTES", &c.MaxFrameBytes, 4<<20,
			"larger connector frames are dead-lettered as `oversized`; also capped below the NATS max payload").Min(1024),
		envconf.V("WSEDGE_PUBLISH_WINDOW", &c.PublishWindow, 1024,
			"JetStream publishes in flight; reads pause when it is full").Min(1),
		envconf.V("WSEDGE_PUBLISH_TIMEOUT", &c.PublishTimeout, 10*time.Second,
			"wait for a PubAck").Positive(),
		envconf.V("WSEDGE_PUBLISH_RETRIES", &c.PublishRetries, 3,
			"retries of an unbuffered frame whose publish failed before it is given up as lost; "+
				"a buffered frame is retried until stored, then acked, and on shutdown it stays un-acked for the connector to replay").Min(0),
		envconf.V("WSEDGE_OUTBOUND_TIMEOUT", &c.OutboundTimeout, 30*time.Second,
			"wait for an `outbound_result`").Positive(),
		envconf.V("WSEDGE_OUTBOUND_CONCURRENCY", &c.OutboundConcurrency, 4096,
			"edge requests handled at once").Min(1),
		envconf.V("WSEDGE_DIAL_TIMEOUT", &c.DialTimeout, 10*time.Second,
			"bound on the WebSocket upgrade").Positive(),
		envconf.V("WSEDGE_HANDSHAKE_TIMEOUT", &c.HandshakeTimeout, 30*time.Second,
			"wait for the first descriptor after a dial, then redial").Positive(),
		envconf.V("WSEDGE_PING_INTERVAL", &c.PingInterval, 30*time.Second,
			"how often a WebSocket ping is sent").Positive(),
		envconf.V("WSEDGE_PONG_TIMEOUT", &c.PongTimeout, 60*time.Second,
			"no pong for this long means a dead socket; more than `WSEDGE_PING_INTERVAL`").Positive(),
		envconf.V("WSEDGE_WRITE_TIMEOUT", &c.WriteTimeout, 10*time.Second,
			"bound on one socket write").Positive(),
		envconf.V("WSEDGE_BACKOFF_MIN", &c.BackoffMin, time.Second,
			"first step of the reconnect ladder, which doubles with jitter").Positive(),
		envconf.V("WSEDGE_BACKOFF_MAX", &c.BackoffMax, 30*time.Second,
			"last step of the reconnect ladder; at least `WSEDGE_BACKOFF_MIN`").Positive(),
		envconf.V("WSEDGE_STABLE_AFTER", &c.StableAfter, 60*time.Second,
			"uptime after which the reconnect ladder resets").Positive(),
		envconf.V("WSEDGE_IDLE_TIMEOUT", &c.IdleTimeout, 2*time.Second,
			"wait for `going_idle_ack` on shutdown").Positive(),
		envconf.V("WSEDGE_ACK_HORIZON", &c.AckHorizon, 2*time.Minute,
			"how far back before a disconnect an `inbound_ack` may have been lost, so its frame replayed; at least `WSEDGE_PONG_TIMEOUT` + `WSEDGE_WRITE_TIMEOUT`. "+
				"At every connect the acks each ws-edge logged in this span before its latest (`RELAY_ACKLOG`) are loaded, about 8 B per frame, "+
				"and replays of them absorbed; the set is dropped twice this long after the connect").Positive(),
		envconf.V("WSEDGE_SHUTDOWN_TIMEOUT", &c.ShutdownTimeout, 10*time.Second,
			"bound on each step of the way out: finishing in-flight publishes, draining NATS").Positive(),
	}, append(envconf.Ops("WSEDGE", "8081", &c.HTTPAddr, &c.Pprof), c.Bus.Vars()...)...)
}

// config is what ws-edge's configuration shares with every stage's.
var config = stage.ConfigSpec[Config]{
	Vars:    (*Config).vars,
	Version: func(c *Config) *string { return &c.Version },
	Check:   Config.check,
	Invalid: ErrInvalidConfig,
}

// DefaultConfig returns the defaults. RelayURL is empty and must be set.
func DefaultConfig() Config { return config.Default() }

// Validate checks the settings; errors wrap ErrInvalidConfig and name the
// variable to fix.
func (c Config) Validate() error { return config.Validate(c) }

// check is ws-edge's own rules beyond the declared limits.
func (c Config) check() error {
	if strings.TrimSpace(c.RelayURL) == "" {
		return errors.New("GATEWAY_RELAY_URL is required (the connector base URL, e.g. https://connector.example)")
	}
	if _, err := wire.DialURL(c.RelayURL); err != nil {
		return fmt.Errorf("GATEWAY_RELAY_URL: %v", err)
	}
	if c.RelaySecret != "" && strings.TrimSpace(c.RelaySecret) == "" {
		return errors.New("GATEWAY_RELAY_SECRET must contain a non-space character")
	}
	if c.BackoffMax < c.BackoffMin {
		return fmt.Errorf("WSEDGE_BACKOFF_MAX=%v is below WSEDGE_BACKOFF_MIN=%v", c.BackoffMax, c.BackoffMin)
	}
	if c.PongTimeout <= c.PingInterval {
		return fmt.Errorf("WSEDGE_PONG_TIMEOUT=%v must exceed WSEDGE_PING_INTERVAL=%v", c.PongTimeout, c.PingInterval)
	}
	if c.AckHorizon < c.PongTimeout+c.WriteTimeout {
		// Acks written to a socket that died unnoticed are lost until the
		// pong deadline: their replays must be in the loaded set.
		return fmt.Errorf("WSEDGE_ACK_HORIZON=%v is below WSEDGE_PONG_TIMEOUT + WSEDGE_WRITE_TIMEOUT = %v", c.AckHorizon, c.PongTimeout+c.WriteTimeout)
	}
	return nil
}

// ConfigFromEnv overlays the environment on DefaultConfig and validates the
// result.
func ConfigFromEnv(getenv func(string) string) (Config, error) { return config.FromEnv(getenv) }

// LogValue renders the configuration for the startup log, under the
// variables' names, the secret redacted.
func (c Config) LogValue() slog.Value { return config.LogValue(c) }
