// Package golden compares test output with golden files in testdata, for
// the tests of pkg (descriptor, events). Only tests import it.
package golden

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Files are a package's golden files in testdata and how a test reports them.
type Files struct {
	// Update is the package's -update flag: when set, Check rewrites the
	// files from the current output instead of comparing.
	Update *bool
	// Hint says how to create the files, for a file that cannot be read:
	// "regenerate with go test ./descriptor -update".
	Hint string
	// Mismatch follows the file's path in the report of a difference:
	// "mismatch", or what a change breaks.
	Mismatch string
	// Fatal stops the test at a difference; otherwise it goes on (Errorf).
	Fatal bool
}

// Check compares got with testdata/<name>, or rewrites the file when the
// test runs with -update.
func (f Files) Check(tb testing.TB, name string, got []byte) {
	tb.Helper()
	path := filepath.Join("testdata", name)
	if *f.Update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatalf("writing golden file: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("reading golden file (%s): %v", f.Hint, err)
	}
	if bytes.Equal(got, want) {
		return
	}
	report := tb.Errorf
	if f.Fatal {
		report = tb.Fatalf
	}
	report("%s %s (-want +got):\n%s", path, f.Mismatch, cmp.Diff(string(want), string(got)))
}
