// Package natsembed starts and stops an embedded nats-server with JetStream,
// for the all-in-one relay binary and for tests.
//
// The server is started with NoSigs set: otherwise nats-server installs its
// own signal handlers and may call os.Exit, which would defeat the caller's
// shutdown order (drain the services first, then shut the server down).
package natsembed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ErrNotReady is returned by Start when the server does not accept
// connections in time.
var ErrNotReady = errors.New("natsembed: server not ready for connections")

// Config configures an embedded server.
type Config struct {
	// Listen is host:port for client connections (port 0: any free port;
	// port -1: the nats-server default 4222 is NOT used, any free port).
	// Ignored when DontListen is set.
	Listen string
	// DontListen runs without a TCP listener: only in-process connections.
	DontListen bool
	// StoreDir is the JetStream file store directory.
	StoreDir string
	// ServerName names the server (default "relay").
	ServerName string
	// Log receives the server's log lines (see [StartWithOptions] for the
	// levels); nil disables server logging.
	Log *slog.Logger
	// ReadyTimeout bounds the wait for the server to accept connections
	// (default 10 s).
	ReadyTimeout time.Duration
	// Users, when set, are the only clients the server accepts (nkey
	// users with their permissions: natsauth.Users); without them any
	// client may connect and do anything.
	Users []*server.NkeyUser
	// Mutate, when set, may adjust the options before the server starts
	// (tests use it for clustering).
	Mutate func(*server.Options)
}

// Options returns the nats-server options for cfg.
func Options(cfg Config) (*server.Options, error) {
	opts := &server.Options{
		ServerName: cfg.ServerName,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		NoSigs:     true,
		NoLog:      cfg.Log == nil,
		DontListen: cfg.DontListen,
		// Frames with large forwarded bodies must fit.
		MaxPayload: 8 << 20,
	}
	if len(cfg.Users) > 0 {
		opts.Nkeys = cfg.Users
	}
	if opts.ServerName == "" {
		opts.ServerName = "relay"
	}
	if !cfg.DontListen {
		host, portStr, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("natsembed: listen address %q: %w", cfg.Listen, err)
		}
		port, err := strconv.Atoi(portStr)
		if err != nil {
			return nil, fmt.Errorf("natsembed: listen port %q: %w", portStr, err)
		}
		if port == 0 {
			port = server.RANDOM_PORT
		}
		opts.Host, opts.Port = host, port
	}
	if cfg.Mutate != nil {
		cfg.Mutate(opts)
	}
	return opts, nil
}

// Start starts a server and waits until it accepts connections. Stop it
// with Shutdown.
func Start(cfg Config) (*server.Server, error) {
	opts, err := Options(cfg)
	if err != nil {
		return nil, err
	}
	return StartWithOptions(opts, cfg.Log, cfg.ReadyTimeout)
}

// StartWithOptions starts a server from explicit options. Its log lines
// go to log, when set: notices (the startup banner, JetStream's store
// recovery, ...) at Debug, so that an embedding process at the default
// level shows only the server's warnings and errors; fatal errors at
// Error, warnings at Warn; traces never.
func StartWithOptions(opts *server.Options, log *slog.Logger, ready time.Duration) (*server.Server, error) {
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsembed: new server: %w", err)
	}
	if log != nil {
		ns.SetLoggerV2(&slogAdapter{log: log.With("component", "nats-server")}, false, false, false)
	}
	go ns.Start()
	if ready <= 0 {
		ready = 10 * time.Second
	}
	if !ns.ReadyForConnections(ready) {
		ns.Shutdown()
		return nil, ErrNotReady
	}
	return ns, nil
}

// Shutdown stops the server and waits until it is down.
func Shutdown(ns *server.Server) {
	if ns == nil {
		return
	}
	ns.Shutdown()
	ns.WaitForShutdown()
}

// slogAdapter routes nats-server log lines to slog.
type slogAdapter struct{ log *slog.Logger }

func (a *slogAdapter) Noticef(format string, v ...any) { a.logf(slog.LevelDebug, format, v) }
func (a *slogAdapter) Warnf(format string, v ...any)   { a.logf(slog.LevelWarn, format, v) }
func (a *slogAdapter) Fatalf(format string, v ...any)  { a.logf(slog.LevelError, format, v) }
func (a *slogAdapter) Errorf(format string, v ...any)  { a.logf(slog.LevelError, format, v) }
func (a *slogAdapter) Debugf(format string, v ...any)  { a.logf(slog.LevelDebug, format, v) }
func (a *slogAdapter) Tracef(format string, v ...any)  {}

func (a *slogAdapter) logf(level slog.Level, format string, v []any) {
	if a.log.Enabled(context.Background(), level) {
		a.log.Log(context.Background(), level, fmt.Sprintf(format, v...))
	}
}
