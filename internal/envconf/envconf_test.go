package envconf_test

import (
	"errors"
	"testing"
	"time"

	"github.com/relaybus/relaybus/internal/envconf"
)

func TestOverlay(t *testing.T) {
	env := map[string]string{"N": " 7 ", "D": "15m", "B": "1", "S": " x ", "BLANK": "  ", "BAD": "seven"}
	getenv := func(k string) string { return env[k] }
	n, d, b, s, keep := 1, time.Second, false, "", 42
	if err := envconf.Overlay(getenv, envconf.V("N", &n), envconf.V("D", &d), envconf.V("B", &b), envconf.V("S", &s), envconf.V("BLANK", &keep), envconf.V("UNSET", &keep)); err != nil {
		t.Fatal(err)
	}
	if n != 7 || d != 15*time.Minute || !b || s != "x" || keep != 42 {
		t.Errorf("got %d %v %v %q %d; want 7 15m true x 42", n, d, b, s, keep)
	}
	err := envconf.Overlay(getenv, envconf.V("BAD", &n))
	if !errors.Is(err, envconf.ErrInvalid) || err.Error() != `BAD="seven": want an integer` {
		t.Errorf("Overlay(BAD) = %v", err)
	}
}
