// Package envconftest keeps the READMEs in step with the envconf
// declarations: a stage's table of variables is generated from them, and a
// summary elsewhere must at least name each one.
package envconftest

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/relaybus/relaybus/internal/envconf"
)

var update = flag.Bool("update-readme", false, "rewrite the README tables of variables from the envconf declarations")

// The generated table stands between these two lines.
const (
	Begin = "<!-- envconf: generated from the declarations in Go; refresh with go test -run README -update-readme -->"
	End   = "<!-- /envconf -->"
)

// README checks that the table between Begin and End in the file at path
// is envconf.Markdown of vars; with -update-readme it rewrites the table.
func README(t testing.TB, path string, vars ...envconf.Var) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	head, rest, ok := strings.Cut(doc, Begin+"\n")
	old, tail, ok2 := strings.Cut(rest, End)
	if !ok || !ok2 {
		t.Fatalf("%s has no table between %q and %q", path, Begin, End)
	}
	want := envconf.Markdown(vars...)
	if old == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(head+Begin+"\n"+want+End+tail), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s: the table of variables differs from the declarations; run go test -run README -update-readme\n got:\n%s\nwant:\n%s", path, old, want)
}

// Mentions checks that the file at path names every variable of vars, as
// `NAME`.
func Mentions(t testing.TB, path string, vars ...envconf.Var) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range envconf.Names(vars...) {
		if !strings.Contains(string(b), "`"+name+"`") {
			t.Errorf("%s does not mention `%s`", path, name)
		}
	}
}
