package main_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestTourFilesExist: every file the README tour and the --dev banner
// tell a newcomer to curl (-d @path, from the repository root) is in the
// repository.
func TestTourFilesExist(t *testing.T) {
	const root = "../.."
	atFile := regexp.MustCompile(`-d @(\S+)`)
	for _, doc := range []string{"README.md", "cmd/relay/allinone.go"} {
		b, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		found := atFile.FindAllSubmatch(b, -1)
		if len(found) == 0 {
			t.Errorf("%s: no curl -d @file found", doc)
		}
		for _, m := range found {
			rel := filepath.Clean(string(m[1]))
			if filepath.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, "../") {
				t.Errorf("%s: curl -d @%s: outside the repository", doc, m[1])
				continue
			}
			if _, err := os.Stat(filepath.Join(root, rel)); err != nil {
				t.Errorf("%s: curl -d @%s: %v (paths are relative to the repository root)", doc, m[1], err)
			}
		}
	}
}
