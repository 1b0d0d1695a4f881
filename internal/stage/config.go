package stage

import (
	"fmt"
	"log/slog"

	"github.com/relaybus/relaybus/internal/envconf"
)

// ConfigSpec is what a stage's configuration shares with every other
// stage's, so that the stage's Config says only what is its own: its
// variables, its version field, its rules beyond the variables' declared
// limits, and its sentinel error. A stage declares it once and writes its
// DefaultConfig, Validate, ConfigFromEnv and LogValue as one-line calls of
// its methods.
type ConfigSpec[C any] struct {
	// Vars declares C's variables, bound to c's fields (see
	// [envconf.Load]).
	Vars func(c *C) []envconf.Var
	// Version is C's version field: [ConfigSpec.Default] sets it to
	// [Version], [ConfigSpec.Validate] checks it is SemVer.
	Version func(c *C) *string
	// Check is the stage's own rules beyond the declared limits, checked
	// after them; nil has none. Its error names the variable to fix.
	Check func(c C) error
	// Invalid is the stage's sentinel, wrapped by every error.
	Invalid error
}

// Default returns a C with every variable at its default and the version
// at [Version].
func (s ConfigSpec[C]) Default() C {
	c := envconf.Default(s.Vars)
	*s.Version(&c) = Version
	return c
}

// Validate checks c: the variables' declared limits, then s.Check, then
// the version. Its error wraps s.Invalid.
func (s ConfigSpec[C]) Validate(c C) error {
	err := envconf.Check(s.Vars(&c)...)
	if err == nil && s.Check != nil {
		err = s.Check(c)
	}
	if err == nil {
		err = envconf.CheckVersion(*s.Version(&c))
	}
	if err != nil {
		return fmt.Errorf("%w: %w", s.Invalid, err)
	}
	return nil
}

// FromEnv overlays the environment on [ConfigSpec.Default] and validates
// the result.
func (s ConfigSpec[C]) FromEnv(getenv func(string) string) (C, error) {
	return envconf.Load(getenv, s.Default(), s.Vars, s.Validate, s.Invalid)
}

// LogValue renders c for the startup log, under the variables' names,
// secrets redacted.
func (s ConfigSpec[C]) LogValue(c C) slog.Value { return envconf.LogValue(s.Vars(&c)...) }
