// Package envconf overlays environment variables on a configuration struct
// the same way in every relaybus binary: a variable that is unset or blank
// leaves the default; a set one must parse, or the error names the variable,
// its value and what was expected, in one line.
package envconf

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrInvalid classifies every error of Overlay.
var ErrInvalid = errors.New("envconf: invalid value")

// Error is a variable whose value does not parse. Its message is one line,
// `NAME="value": want …`, for the caller to prefix with its own sentinel.
type Error struct {
	Name, Value, Want string
}

func (e *Error) Error() string { return fmt.Sprintf("%s=%q: want %s", e.Name, e.Value, e.Want) }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// Var binds an environment variable to a destination.
type Var struct {
	name string
	dst  any
}

// V binds name to dst, which is a *int, *int64, *time.Duration, *bool or
// *string (strings are trimmed).
func V(name string, dst any) Var { return Var{name: name, dst: dst} }

// Overlay sets each destination whose variable is set, in order, and
// returns the first parse error.
func Overlay(getenv func(string) string, vars ...Var) error {
	for _, v := range vars {
		s := strings.TrimSpace(getenv(v.name))
		if s == "" {
			continue
		}
		var err error
		var want string
		switch d := v.dst.(type) {
		case *int:
			*d, err = strconv.Atoi(s)
			want = "an integer"
		case *int64:
			*d, err = strconv.ParseInt(s, 10, 64)
			want = "an integer"
		case *time.Duration:
			*d, err = time.ParseDuration(s)
			want = "a duration like 30s or 15m"
		case *bool:
			*d, err = strconv.ParseBool(s)
			want = "true or false (1 or 0)"
		case *string:
			*d = s
		default:
			panic(fmt.Sprintf("envconf: unsupported destination %T for %s", v.dst, v.name)) // programmer error
		}
		if err != nil {
			return &Error{Name: v.name, Value: s, Want: want}
		}
	}
	return nil
}
