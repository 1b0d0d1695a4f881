// Package natsconn connects a service to NATS from its environment
// (NATS_URL, NATS_CREDS, NATS_TLS_CA), reconnecting forever and logging
// every disconnect, reconnect and close.
package natsconn

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go"
)

// ErrInvalidConfig classifies configuration errors.
var ErrInvalidConfig = errors.New("natsconn: invalid config")

// Config says how to reach NATS.
type Config struct {
	URL   string // NATS_URL, default nats://127.0.0.1:4222
	Creds string // NATS_CREDS: a credentials file
	TLSCA string // NATS_TLS_CA: a CA bundle to verify the server
}

// FromEnv reads NATS_URL, NATS_CREDS and NATS_TLS_CA.
func FromEnv(getenv func(string) string) Config {
	c := Config{URL: getenv("NATS_URL"), Creds: getenv("NATS_CREDS"), TLSCA: getenv("NATS_TLS_CA")}
	if c.URL == "" {
		c.URL = nats.DefaultURL
	}
	return c
}

// Validate checks that the referenced files exist.
func (c Config) Validate() error {
	if c.URL == "" {
		return fmt.Errorf("%w: NATS_URL is empty", ErrInvalidConfig)
	}
	for name, path := range map[string]string{"NATS_CREDS": c.Creds, "NATS_TLS_CA": c.TLSCA} {
		if path == "" {
			continue
		}
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("%w: %s=%q: %v", ErrInvalidConfig, name, path, err)
		}
	}
	return nil
}

// Options returns the client options every relaybus connection uses: a
// name, infinite reconnects (with the connection retried at start too), a
// larger reconnect buffer, and logging handlers.
func Options(name string, log *slog.Logger) []nats.Option {
	return []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.ReconnectBufSize(32 << 20),
		nats.PingInterval(10 * time.Second),
		nats.MaxPingsOutstanding(3),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			} else {
				log.Info("nats disconnected")
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", "server", nc.ConnectedUrlRedacted())
		}),
		nats.ClosedHandler(func(_ *nats.Conn) { log.Info("nats connection closed") }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			log.Warn("nats async error", "subject", subj, "err", err)
		}),
	}
}

// Connect dials NATS with Options plus the credentials and CA of cfg. It
// keeps retrying in the background when the first dial fails
// (RetryOnFailedConnect), so a service can start before its NATS server.
func Connect(cfg Config, name string, log *slog.Logger) (*nats.Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := append(Options(name, log), nats.RetryOnFailedConnect(true))
	if cfg.Creds != "" {
		opts = append(opts, nats.UserCredentials(cfg.Creds))
	}
	if cfg.TLSCA != "" {
		opts = append(opts, nats.RootCAs(cfg.TLSCA))
	}
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to nats at %s: %w", cfg.URL, err)
	}
	return nc, nil
}

// Drain drains nc (in-flight messages are delivered, subscriptions flushed)
// and waits until it is closed, closing it outright after timeout. Every
// stage calls it last on its way out.
func Drain(nc *nats.Conn, timeout time.Duration) error {
	if nc.IsClosed() {
		return nil
	}
	if err := nc.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		nc.Close()
		return fmt.Errorf("draining nats: %w", err)
	}
	deadline := time.Now().Add(timeout)
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !nc.IsClosed() {
		if time.Now().After(deadline) {
			nc.Close()
			return fmt.Errorf("draining nats: not closed within %v", timeout)
		}
		<-t.C
	}
	return nil
}
