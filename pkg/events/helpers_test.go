package events_test

import (
	"os"
	"path/filepath"
	"testing"
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
