package egress

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/envconf"
	"github.com/relaybus/relaybus/pkg/events"
)

// Config holds the egress settings. Build it with [DefaultConfig] or
// [ConfigFromEnv]; [Config.Validate] checks it.
type Config struct {
	// Workers is EGRESS_WORKERS: concurrent action handlers (default 64).
	// Actions of one chat always go through the same worker, in order.
	Workers int
	// ActionDeadline is EGRESS_ACTION_DEADLINE: how long an action that
	// cannot reach the connector is retried, counted from when it was
	// stored (default 15m, the life of a Discord interaction token). An
	// action may shorten or extend it with the Relay-Deadline header.
	ActionDeadline time.Duration
	// EdgeTimeout is EGRESS_EDGE_TIMEOUT: how long one relay.edge.outbound
	// request may take (default 35s: ws-edge's own 30 s outbound timeout
	// plus a margin, so that ws-edge reports the ambiguous timeout itself).
	EdgeTimeout time.Duration
	// AckWait is EGRESS_ACK_WAIT: the consumer's ack wait (default 60s).
	// The consume loop tells the server every AckWait/3 that an action in
	// hand is still in progress, so a long request or split send keeps it;
	// this only bounds how late a crashed replica's actions come back.
	AckWait time.Duration
	// RetryBase and RetryMax are EGRESS_RETRY_BASE and EGRESS_RETRY_MAX: an
	// undelivered action is retried after RetryBase·2^(n-1), capped at
	// RetryMax (defaults 250ms and 30s).
	RetryBase, RetryMax time.Duration
	// PrimaryPlatform is the first entry of GATEWAY_RELAY_PLATFORMS: the
	// platform assumed for an action whose chat is known on several
	// platforms, and whose descriptor applies when nothing else names one.
	// Empty: the first descriptor stored in relay_descriptor.
	PrimaryPlatform string
	// Identities are GATEWAY_RELAY_PLATFORMS with GATEWAY_RELAY_BOT_IDS,
	// as ws-edge reads them. With more than one, every outbound frame is
	// tagged with the platform and bot id the chat's traffic came in on
	// (contract §6 "Identity of a reply"); with one or none, nothing is
	// added.
	Identities events.Identities
	// HTTPAddr is EGRESS_HTTP_ADDR: the ops HTTP listen address ("" = no
	// ops server of its own; the egress binary defaults to ":8083").
	HTTPAddr string
	// Version is the service version (SemVer), reported by the micro
	// service registration.
	Version string
	// Bus shapes the streams and buckets (RELAY_* settings).
	Bus bus.Config
	// ShutdownTimeout is EGRESS_SHUTDOWN_TIMEOUT: how long in-flight
	// actions may run after shutdown started (default 10s).
	ShutdownTimeout time.Duration
}

// DefaultConfig returns the default settings.
func DefaultConfig() Config {
	return Config{
		Workers:         64,
		ActionDeadline:  15 * time.Minute,
		EdgeTimeout:     35 * time.Second,
		AckWait:         60 * time.Second,
		RetryBase:       250 * time.Millisecond,
		RetryMax:        30 * time.Second,
		Version:         "0.1.0",
		Bus:             bus.DefaultConfig(),
		ShutdownTimeout: 10 * time.Second,
	}
}

// semver is the SemVer 2.0 grammar micro validates versions against.
var semver = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// Validate checks the settings. Errors wrap [ErrInvalidConfig] and name the
// environment variable to fix.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	switch {
	case c.Workers < 1 || c.Workers > 4096:
		return bad("EGRESS_WORKERS=%d: want 1..4096", c.Workers)
	case c.ActionDeadline < time.Second:
		return bad("EGRESS_ACTION_DEADLINE=%v: want at least 1s", c.ActionDeadline)
	case c.EdgeTimeout < time.Second:
		return bad("EGRESS_EDGE_TIMEOUT=%v: want at least 1s", c.EdgeTimeout)
	case c.AckWait < time.Second:
		return bad("EGRESS_ACK_WAIT=%v: want at least 1s", c.AckWait)
	case c.RetryBase <= 0:
		return bad("EGRESS_RETRY_BASE=%v: want a positive duration", c.RetryBase)
	case c.RetryMax < c.RetryBase:
		return bad("EGRESS_RETRY_MAX=%v: want at least EGRESS_RETRY_BASE (%v)", c.RetryMax, c.RetryBase)
	case c.ShutdownTimeout <= 0:
		return bad("EGRESS_SHUTDOWN_TIMEOUT=%v: want a positive duration", c.ShutdownTimeout)
	case !semver.MatchString(c.Version):
		return bad("version %q is not SemVer (set it with -ldflags -X main.version=1.2.3)", c.Version)
	}
	if c.HTTPAddr != "" {
		if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
			return bad("EGRESS_HTTP_ADDR=%q: want host:port, like :8083", c.HTTPAddr)
		}
	}
	if err := c.Bus.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

// ConfigFromEnv overlays the environment on [DefaultConfig] and validates
// the result: EGRESS_HTTP_ADDR, EGRESS_WORKERS, EGRESS_ACTION_DEADLINE,
// EGRESS_EDGE_TIMEOUT, EGRESS_ACK_WAIT, EGRESS_RETRY_BASE, EGRESS_RETRY_MAX,
// EGRESS_SHUTDOWN_TIMEOUT, GATEWAY_RELAY_PLATFORMS, GATEWAY_RELAY_BOT_IDS and the
// RELAY_* bus settings.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := DefaultConfig()
	b, err := bus.FromEnv(getenv)
	if err != nil {
		return c, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	c.Bus = b
	if v := getenv("EGRESS_HTTP_ADDR"); v != "" {
		c.HTTPAddr = v
	}
	if err := envconf.Overlay(getenv,
		envconf.V("EGRESS_WORKERS", &c.Workers),
		envconf.V("EGRESS_ACTION_DEADLINE", &c.ActionDeadline),
		envconf.V("EGRESS_EDGE_TIMEOUT", &c.EdgeTimeout),
		envconf.V("EGRESS_ACK_WAIT", &c.AckWait),
		envconf.V("EGRESS_RETRY_BASE", &c.RetryBase),
		envconf.V("EGRESS_RETRY_MAX", &c.RetryMax),
		envconf.V("EGRESS_SHUTDOWN_TIMEOUT", &c.ShutdownTimeout),
	); err != nil {
		return c, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if v := getenv("GATEWAY_RELAY_PLATFORMS"); strings.TrimSpace(v) != "" {
		// Bad bot-id JSON means no bot ids (contract §2); ws-edge warns.
		c.Identities, _ = events.ParseIdentities(v, getenv("GATEWAY_RELAY_BOT_IDS"))
		c.PrimaryPlatform = c.Identities.Primary()
	}
	return c, c.Validate()
}
