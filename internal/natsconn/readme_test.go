package natsconn_test

import (
	"os"
	"strings"
	"testing"

	"github.com/relaybus/relaybus/internal/logging"
	"github.com/relaybus/relaybus/internal/natsconn"
)

// TestREADMENamesEveryVariable: the root README's Configuration table
// documents every variable the connection and the logger declare.
func TestREADMENamesEveryVariable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	var nc natsconn.Config
	var lc logging.Config
	for _, v := range append(nc.Vars(), lc.Vars()...) {
		if name := v.Name(); !strings.Contains(readme, "`"+name+"`") {
			t.Errorf("README.md does not document %s", name)
		}
	}
}
