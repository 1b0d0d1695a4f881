package discord

import (
	"os"
	"path/filepath"
	"testing"
)

// readFixtures returns the body of every testdata/*.json fixture, in name
// order.
func readFixtures(tb testing.TB) [][]byte {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no fixtures in testdata (%v)", err)
	}
	bodies := make([][]byte, 0, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	return bodies
}

// ReadFixtures exposes readFixtures to the package's external tests.
var ReadFixtures = readFixtures
