// Package logging builds the slog logger every relaybus binary uses, from
// LOG_LEVEL (debug, info, warn, error; default info) and LOG_FORMAT (json,
// the default, or text).
package logging

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// ErrInvalidConfig classifies bad LOG_LEVEL or LOG_FORMAT values.
var ErrInvalidConfig = errors.New("logging: invalid config")

// New returns a logger writing to w, configured from getenv.
func New(w io.Writer, getenv func(string) string) (*slog.Logger, error) {
	var level slog.Level
	switch strings.ToLower(getenv("LOG_LEVEL")) {
	case "", "info":
		level = slog.LevelInfo
	case "debug":
		level = slog.LevelDebug
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return nil, fmt.Errorf("%w: LOG_LEVEL=%q: want debug, info, warn or error", ErrInvalidConfig, getenv("LOG_LEVEL"))
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(getenv("LOG_FORMAT")) {
	case "", "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("%w: LOG_FORMAT=%q: want json or text", ErrInvalidConfig, getenv("LOG_FORMAT"))
}
