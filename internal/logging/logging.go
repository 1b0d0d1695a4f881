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

	"github.com/relaybus/relaybus/internal/envconf"
)

// ErrInvalidConfig classifies bad LOG_LEVEL or LOG_FORMAT values.
var ErrInvalidConfig = errors.New("logging: invalid config")

// Config is how a binary logs: LOG_LEVEL and LOG_FORMAT.
type Config struct {
	Level  slog.Level
	Format string // "json", "text", or "" (text on a terminal, else json)
}

// Vars declares LOG_LEVEL and LOG_FORMAT, each once (package envconf).
func (c *Config) Vars() []envconf.Var {
	return []envconf.Var{
		envconf.Func("LOG_LEVEL", &c.Level, slog.LevelInfo, "`debug`, `info`, `warn` or `error`", parseLevel,
			func(l slog.Level) string { return strings.ToLower(l.String()) }),
		envconf.Func("LOG_FORMAT", &c.Format, "",
			"`json` (one object a line), `text` (key=value lines), or unset: short text lines on a terminal, json otherwise",
			parseFormat, func(f string) string { return f }),
	}
}

// FromEnv reads LOG_LEVEL and LOG_FORMAT; a bad value is an error wrapping
// ErrInvalidConfig and naming the variable.
func FromEnv(getenv func(string) string) (Config, error) {
	c := envconf.Default((*Config).Vars)
	if err := envconf.Parse(getenv, c.Vars()...); err != nil {
		return c, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return c, nil
}

// LogValue logs the configuration under the variables' names.
func (c Config) LogValue() slog.Value { return envconf.LogValue(c.Vars()...) }

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, errors.New("debug, info, warn or error")
}

func parseFormat(s string) (string, error) {
	switch f := strings.ToLower(s); f {
	case "json", "text":
		return f, nil
	}
	return "", errors.New("json or text")
}

// New returns a logger writing to w, configured from getenv (FromEnv).
func New(w io.Writer, getenv func(string) string) (*slog.Logger, error) {
	c, err := FromEnv(getenv)
	if err != nil {
		return nil, err
	}
	return c.New(w), nil
}

// New returns a logger writing to w as c says.
func (c Config) New(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.Level}
	switch c.Format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts))
	case "text":
		return slog.New(slog.NewTextHandler(w, opts))
	}
	if IsTerminal(w) {
		opts.ReplaceAttr = shortTime
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
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
