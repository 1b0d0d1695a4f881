package converter

import (
	"fmt"
	"time"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/envconf"
	"github.com/relaybus/relaybus/pkg/events"
)

// Config configures the converter.
type Config struct {
	// Durable is the consumer name shared by every replica.
	Durable string
	// Workers is CONVERTER_WORKERS: concurrent conversions (default 64).
	Workers int
	// MaxDeliver is CONVERTER_MAX_DELIVER: deliveries before a frame that
	// keeps failing (a NATS outage, not bad input) is dead-lettered.
	MaxDeliver int
	// AckWait is CONVERTER_ACK_WAIT: how long a frame handed to a replica
	// may go unacknowledged before another replica gets it (default 5 s;
	// frames waiting in a live replica's queue are kept alive, so this only
	// bounds how late a crashed replica's frames arrive).
	AckWait time.Duration
	// ScopeCacheSize bounds the per-replica memory of written scope records
	// (CONVERTER_SCOPE_CACHE, default 100000 chats).
	ScopeCacheSize int
	// Identities are GATEWAY_RELAY_PLATFORMS with GATEWAY_RELAY_BOT_IDS:
	// the bot id recorded with an inbound chat's scope, so that egress can
	// reply under the identity the chat's traffic came in on.
	Identities events.Identities
	// HTTPAddr is CONVERTER_HTTP_ADDR ("" = no ops server of its own).
	HTTPAddr        string
	Version         string
	Bus             bus.Config
	ShutdownTimeout time.Duration
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Durable:         "passthrough-converter",
		Workers:         64,
		MaxDeliver:      10,
		AckWait:         5 * time.Second,
		ScopeCacheSize:  100_000,
		Version:         "0.1.0",
		Bus:             bus.DefaultConfig(),
		ShutdownTimeout: 10 * time.Second,
	}
}

// Validate checks the settings.
func (c Config) Validate() error {
	switch {
	case c.Durable == "":
		return fmt.Errorf("%w: consumer name is empty", ErrInvalidConfig)
	case c.Workers < 1 || c.Workers > 4096:
		return fmt.Errorf("%w: CONVERTER_WORKERS=%d: want 1..4096", ErrInvalidConfig, c.Workers)
	case c.MaxDeliver < 1:
		return fmt.Errorf("%w: CONVERTER_MAX_DELIVER=%d: want >= 1", ErrInvalidConfig, c.MaxDeliver)
	case c.ScopeCacheSize < 1:
		return fmt.Errorf("%w: CONVERTER_SCOPE_CACHE=%d: want >= 1", ErrInvalidConfig, c.ScopeCacheSize)
	case c.AckWait < time.Second:
		return fmt.Errorf("%w: CONVERTER_ACK_WAIT=%v: want at least 1s", ErrInvalidConfig, c.AckWait)
	case c.ShutdownTimeout <= 0:
		return fmt.Errorf("%w: CONVERTER_SHUTDOWN_TIMEOUT=%v: want > 0", ErrInvalidConfig, c.ShutdownTimeout)
	}
	return c.Bus.Validate()
}

// ConfigFromEnv overlays the environment on DefaultConfig and validates.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := DefaultConfig()
	var err error
	if c.Bus, err = bus.FromEnv(getenv); err != nil {
		return c, err
	}
	if err := envconf.Overlay(getenv,
		envconf.V("CONVERTER_WORKERS", &c.Workers),
		envconf.V("CONVERTER_MAX_DELIVER", &c.MaxDeliver),
		envconf.V("CONVERTER_SCOPE_CACHE", &c.ScopeCacheSize),
		envconf.V("CONVERTER_SHUTDOWN_TIMEOUT", &c.ShutdownTimeout),
		envconf.V("CONVERTER_ACK_WAIT", &c.AckWait),
	); err != nil {
		return c, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	c.HTTPAddr = getenv("CONVERTER_HTTP_ADDR")
	if v := getenv("GATEWAY_RELAY_PLATFORMS"); v != "" {
		// Bad bot-id JSON means no bot ids (contract §2); ws-edge warns.
		c.Identities, _ = events.ParseIdentities(v, getenv("GATEWAY_RELAY_BOT_IDS"))
	}
	if v := getenv("CONVERTER_DURABLE"); v != "" {
		c.Durable = v
	}
	return c, c.Validate()
}
