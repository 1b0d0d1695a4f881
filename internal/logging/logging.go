// Package logging builds the slog logger every relaybus binary uses, from
// LOG_LEVEL (debug, info, warn, error; default info) and LOG_FORMAT:
//
//   - json: one JSON object a line (what log collectors want);
//   - text: slog's key=value lines;
//   - unset: text with a short clock time when the output is a terminal
//     (a newcomer running `relay --dev`), json otherwise (containers,
//     pipes, files).
package logging

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"golang.org/x/term"
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
	case "":
		if IsTerminal(w) {
			opts.ReplaceAttr = shortTime
			return slog.New(slog.NewTextHandler(w, opts)), nil
		}
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("%w: LOG_FORMAT=%q: want json or text", ErrInvalidConfig, getenv("LOG_FORMAT"))
}

// IsTerminal reports whether w is a terminal, as opposed to a pipe, a
// file, /dev/null or a buffer.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// shortTime writes the record's time as a clock time: a terminal reader
// knows the date, and every line gets shorter.
func shortTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey && a.Value.Kind() == slog.KindTime {
		return slog.String(slog.TimeKey, a.Value.Time().Format("15:04:05.000"))
	}
	return a
}
