package events_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/relaybus/relaybus/pkg/internal/frametest"
)

// readFixture returns testdata/<name>.
func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatalf("reading fixture: %v", err)
	}
	return b
}

// checkReason asserts that err is a *FrameError (or nil) with the wanted
// reason and field.
var checkReason = frametest.CheckReason
