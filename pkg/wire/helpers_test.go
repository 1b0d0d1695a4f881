package wire_test

import (
	"os"
	"path/filepath"
	"testing"
)

// discordFixtures is the repository's one directory of Discord interaction
// bodies (package internal/fixtures, which this module may not import).
const discordFixtures = "../../internal/fixtures/discord"

// readDiscordFixture returns the Discord interaction body name.
func readDiscordFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(discordFixtures, name))
	if err != nil {
		tb.Fatalf("reading Discord fixture: %v", err)
	}
	return b
}
