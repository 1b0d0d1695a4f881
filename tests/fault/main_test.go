package fault_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/relaybus/relaybus/tests/internal/relaytest"
)

// bins are the stage binaries, built once for the whole package (not under
// -short, where every test here skips).
var bins relaytest.Binaries

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "relay-fault-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bins, err = relaytest.Build(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "building the stage binaries:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
