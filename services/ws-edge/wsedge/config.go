package wsedge

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/envconf"
	"github.com/relaybus/relaybus/pkg/events"
)

// Config holds ws-edge's settings. Build it with DefaultConfig or
// ConfigFromEnv; the env variable of each field is named in its comment.
type Config struct {
	// RelayURL is the connector base URL (GATEWAY_RELAY_URL, required); it is
	// normalised with events.DialURL (https → wss, /relay appended).
	RelayURL string
	// RelayID and RelaySecret authenticate the dial (GATEWAY_RELAY_ID,
	// GATEWAY_RELAY_SECRET). When either is empty the dial is
	// unauthenticated, which only a development connector accepts.
	RelayID     string
	RelaySecret string
	// Platforms are the fronted identities in order, the first primary
	// (GATEWAY_RELAY_PLATFORMS, a comma list). Empty means one hello for
	// platform "relay".
	Platforms []string
	// BotIDs is GATEWAY_RELAY_BOT_IDS as given: a JSON map like
	// {"discord":{"botId":"123"}}. Bad JSON reads as an empty map (logged
	// by New), a missing entry as an empty botId.
	BotIDs string
	// InstanceID names this replica in the Relay-Edge header
	// (WSEDGE_INSTANCE_ID; empty: hostname plus a short random suffix).
	InstanceID string

	// MaxFrameBytes is the largest connector frame accepted
	// (WSEDGE_MAX_FRAME_BYTES, default 4 MiB); larger ones are dead-lettered
	// as "oversized".
	MaxFrameBytes int
	// PublishWindow bounds the JetStream publishes in flight
	// (WSEDGE_PUBLISH_WINDOW, default 1024); reads pause when it is full.
	PublishWindow int
	// PublishTimeout is how long a publish waits for JetStream's answer
	// (WSEDGE_PUBLISH_TIMEOUT, default 10s).
	PublishTimeout time.Duration
	// PublishRetries is how many times an unbuffered frame whose publish
	// failed is published again before it is given up as lost
	// (WSEDGE_PUBLISH_RETRIES, default 3). Buffered frames are never retried
	// here: they stay un-acked and the connector replays them.
	PublishRetries int

	// OutboundTimeout bounds the wait for an outbound_result
	// (WSEDGE_OUTBOUND_TIMEOUT, default 30s).
	OutboundTimeout time.Duration
	// OutboundConcurrency bounds the edge requests handled at once
	// (WSEDGE_OUTBOUND_CONCURRENCY, default 4096).
	OutboundConcurrency int

	// DialTimeout bounds the WebSocket upgrade (WSEDGE_DIAL_TIMEOUT, 10s).
	DialTimeout time.Duration
	// HandshakeTimeout bounds the wait for the first descriptor after a dial
	// (WSEDGE_HANDSHAKE_TIMEOUT, default 30s); then ws-edge redials.
	HandshakeTimeout time.Duration
	// PingInterval is how often a WebSocket ping is sent
	// (WSEDGE_PING_INTERVAL, default 30s).
	PingInterval time.Duration
	// PongTimeout is how long the socket may go without a pong before it is
	// considered dead (WSEDGE_PONG_TIMEOUT, default 60s).
	PongTimeout time.Duration
	// WriteTimeout bounds one socket write (WSEDGE_WRITE_TIMEOUT, 10s).
	WriteTimeout time.Duration
	// BackoffMin and BackoffMax are the reconnect ladder
	// (WSEDGE_BACKOFF_MIN, default 1s; WSEDGE_BACKOFF_MAX, default 30s).
	BackoffMin time.Duration
	BackoffMax time.Duration
	// StableAfter is how long a connection must stay up for the ladder to
	// reset (WSEDGE_STABLE_AFTER, default 60s).
	StableAfter time.Duration
	// IdleTimeout bounds the wait for going_idle_ack on shutdown
	// (WSEDGE_IDLE_TIMEOUT, default 2s).
	IdleTimeout time.Duration

	// HTTPAddr is the ops listener (WSEDGE_HTTP_ADDR); "" serves none (the
	// binary defaults to ":8081").
	HTTPAddr string
	// Version is the micro service version (SemVer).
	Version string
	// Bus shapes the streams and buckets (RELAY_* variables, bus.FromEnv).
	Bus bus.Config
	// ShutdownTimeout bounds each step of the way out: finishing in-flight
	// publishes, draining NATS (WSEDGE_SHUTDOWN_TIMEOUT, default 10s).
	ShutdownTimeout time.Duration
}

// DefaultConfig returns the defaults. RelayURL is empty and must be set.
func DefaultConfig() Config {
	return Config{
		MaxFrameBytes:       4 << 20,
		PublishWindow:       1024,
		PublishTimeout:      10 * time.Second,
		PublishRetries:      3,
		OutboundTimeout:     30 * time.Second,
		OutboundConcurrency: 4096,
		DialTimeout:         10 * time.Second,
		HandshakeTimeout:    30 * time.Second,
		PingInterval:        30 * time.Second,
		PongTimeout:         60 * time.Second,
		WriteTimeout:        10 * time.Second,
		BackoffMin:          time.Second,
		BackoffMax:          30 * time.Second,
		StableAfter:         60 * time.Second,
		IdleTimeout:         2 * time.Second,
		Version:             "0.1.0",
		Bus:                 bus.DefaultConfig(),
		ShutdownTimeout:     10 * time.Second,
	}
}

// Validate checks the settings; errors wrap ErrInvalidConfig and name the
// variable to fix.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	if strings.TrimSpace(c.RelayURL) == "" {
		return bad("GATEWAY_RELAY_URL is required (the connector base URL, e.g. https://connector.example)")
	}
	if _, err := events.DialURL(c.RelayURL); err != nil {
		return bad("GATEWAY_RELAY_URL: %v", err)
	}
	if c.RelaySecret != "" && strings.TrimSpace(c.RelaySecret) == "" {
		return bad("GATEWAY_RELAY_SECRET must contain a non-space character")
	}
	ints := []struct {
		name string
		v    int
		min  int
	}{
		{"WSEDGE_MAX_FRAME_BYTES", c.MaxFrameBytes, 1024},
		{"WSEDGE_PUBLISH_WINDOW", c.PublishWindow, 1},
		{"WSEDGE_PUBLISH_RETRIES", c.PublishRetries, 0},
		{"WSEDGE_OUTBOUND_CONCURRENCY", c.OutboundConcurrency, 1},
	}
	for _, i := range ints {
		if i.v < i.min {
			return bad("%s=%d: want at least %d", i.name, i.v, i.min)
		}
	}
	durs := []struct {
		name string
		v    time.Duration
	}{
		{"WSEDGE_PUBLISH_TIMEOUT", c.PublishTimeout},
		{"WSEDGE_OUTBOUND_TIMEOUT", c.OutboundTimeout},
		{"WSEDGE_DIAL_TIMEOUT", c.DialTimeout},
		{"WSEDGE_HANDSHAKE_TIMEOUT", c.HandshakeTimeout},
		{"WSEDGE_PING_INTERVAL", c.PingInterval},
		{"WSEDGE_PONG_TIMEOUT", c.PongTimeout},
		{"WSEDGE_WRITE_TIMEOUT", c.WriteTimeout},
		{"WSEDGE_BACKOFF_MIN", c.BackoffMin},
		{"WSEDGE_BACKOFF_MAX", c.BackoffMax},
		{"WSEDGE_STABLE_AFTER", c.StableAfter},
		{"WSEDGE_IDLE_TIMEOUT", c.IdleTimeout},
		{"WSEDGE_SHUTDOWN_TIMEOUT", c.ShutdownTimeout},
	}
	for _, d := range durs {
		if d.v <= 0 {
			return bad("%s=%v: want a positive duration like 30s", d.name, d.v)
		}
	}
	if c.BackoffMax < c.BackoffMin {
		return bad("WSEDGE_BACKOFF_MAX=%v is below WSEDGE_BACKOFF_MIN=%v", c.BackoffMax, c.BackoffMin)
	}
	if c.PongTimeout <= c.PingInterval {
		return bad("WSEDGE_PONG_TIMEOUT=%v must exceed WSEDGE_PING_INTERVAL=%v", c.PongTimeout, c.PingInterval)
	}
	if !semver(c.Version) {
		return bad("version %q is not SemVer (build with -ldflags -X main.version=1.2.3)", c.Version)
	}
	if err := c.Bus.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	return nil
}

// semver is a loose check of what micro accepts: MAJOR.MINOR.PATCH with an
// optional -pre or +build suffix.
func semver(v string) bool {
	core, _, _ := strings.Cut(v, "+")
	core, _, _ = strings.Cut(core, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if _, err := strconv.ParseUint(p, 10, 64); err != nil {
			return false
		}
	}
	return true
}

// ConfigFromEnv overlays the environment on DefaultConfig and validates the
// result.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := DefaultConfig()
	c.RelayURL = strings.TrimSpace(getenv("GATEWAY_RELAY_URL"))
	c.RelayID = strings.TrimSpace(getenv("GATEWAY_RELAY_ID"))
	c.RelaySecret = getenv("GATEWAY_RELAY_SECRET")
	c.Platforms = splitList(getenv("GATEWAY_RELAY_PLATFORMS"))
	c.BotIDs = getenv("GATEWAY_RELAY_BOT_IDS")
	c.InstanceID = strings.TrimSpace(getenv("WSEDGE_INSTANCE_ID"))
	c.HTTPAddr = getenv("WSEDGE_HTTP_ADDR")

	err := envconf.Overlay(getenv,
		envconf.V("WSEDGE_MAX_FRAME_BYTES", &c.MaxFrameBytes),
		envconf.V("WSEDGE_PUBLISH_WINDOW", &c.PublishWindow),
		envconf.V("WSEDGE_PUBLISH_RETRIES", &c.PublishRetries),
		envconf.V("WSEDGE_OUTBOUND_CONCURRENCY", &c.OutboundConcurrency),
		envconf.V("WSEDGE_PUBLISH_TIMEOUT", &c.PublishTimeout),
		envconf.V("WSEDGE_OUTBOUND_TIMEOUT", &c.OutboundTimeout),
		envconf.V("WSEDGE_DIAL_TIMEOUT", &c.DialTimeout),
		envconf.V("WSEDGE_HANDSHAKE_TIMEOUT", &c.HandshakeTimeout),
		envconf.V("WSEDGE_PING_INTERVAL", &c.PingInterval),
		envconf.V("WSEDGE_PONG_TIMEOUT", &c.PongTimeout),
		envconf.V("WSEDGE_WRITE_TIMEOUT", &c.WriteTimeout),
		envconf.V("WSEDGE_BACKOFF_MIN", &c.BackoffMin),
		envconf.V("WSEDGE_BACKOFF_MAX", &c.BackoffMax),
		envconf.V("WSEDGE_STABLE_AFTER", &c.StableAfter),
		envconf.V("WSEDGE_IDLE_TIMEOUT", &c.IdleTimeout),
		envconf.V("WSEDGE_SHUTDOWN_TIMEOUT", &c.ShutdownTimeout),
	)
	if err != nil {
		return c, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	b, err := bus.FromEnv(getenv)
	if err != nil {
		return c, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	c.Bus = b
	return c, c.Validate()
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// LogValue renders the effective configuration for the startup log with the
// secret redacted.
func (c Config) LogValue() slog.Value {
	secret := ""
	if c.RelaySecret != "" {
		secret = "[redacted]"
	}
	return slog.GroupValue(
		slog.String("relay_url", c.RelayURL),
		slog.String("relay_id", c.RelayID),
		slog.String("relay_secret", secret),
		slog.Any("platforms", c.Platforms),
		slog.String("bot_ids", c.BotIDs),
		slog.String("instance_id", c.InstanceID),
		slog.Int("max_frame_bytes", c.MaxFrameBytes),
		slog.Int("publish_window", c.PublishWindow),
		slog.Duration("publish_timeout", c.PublishTimeout),
		slog.Int("publish_retries", c.PublishRetries),
		slog.Duration("outbound_timeout", c.OutboundTimeout),
		slog.Int("outbound_concurrency", c.OutboundConcurrency),
		slog.Duration("dial_timeout", c.DialTimeout),
		slog.Duration("handshake_timeout", c.HandshakeTimeout),
		slog.Duration("ping_interval", c.PingInterval),
		slog.Duration("pong_timeout", c.PongTimeout),
		slog.Duration("write_timeout", c.WriteTimeout),
		slog.Duration("backoff_min", c.BackoffMin),
		slog.Duration("backoff_max", c.BackoffMax),
		slog.Duration("stable_after", c.StableAfter),
		slog.Duration("idle_timeout", c.IdleTimeout),
		slog.String("http_addr", c.HTTPAddr),
		slog.String("version", c.Version),
		slog.Int("stream_replicas", c.Bus.Replicas),
		slog.Duration("duplicate_window", c.Bus.DuplicateWindow),
		slog.Duration("shutdown_timeout", c.ShutdownTimeout),
	)
}
