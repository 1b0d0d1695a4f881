package converter

import (
	"testing"

	"github.com/relaybus/relaybus/internal/envconf/envconftest"
)

// TestREADME: the README's table of variables is the declarations'.
func TestREADME(t *testing.T) {
	var c Config
	envconftest.README(t, "../README.md", c.vars()...)
}
