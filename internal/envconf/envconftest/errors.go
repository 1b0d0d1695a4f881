package envconftest

import (
	"errors"
	"strings"
	"testing"
)

// WantInvalid fails t unless err, what loading a configuration from a bad
// environment returned, is one line that wraps sentinel and contains want
// (the variable's name, or more of the message): the envconf rule that a
// bad value is reported in one line naming the variable.
func WantInvalid(t testing.TB, err, sentinel error, want string) {
	t.Helper()
	if !errors.Is(err, sentinel) || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("error = %v, want one line wrapping %v naming %s", err, sentinel, want)
	}
}
