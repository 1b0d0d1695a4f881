package bus_test

import (
	"testing"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/envconf/envconftest"
)

// TestREADME: the root README's Configuration section names every RELAY_*
// variable (each stage's README has the generated table).
func TestREADME(t *testing.T) {
	var c bus.Config
	envconftest.Mentions(t, "../../README.md", c.Vars()...)
}
