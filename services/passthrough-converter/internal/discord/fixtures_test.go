package discord

import (
	"testing"

	"github.com/relaybus/relaybus/internal/fixtures"
)

// readFixtures returns the body of every Discord fixture
// (internal/fixtures/discord), in name order.
func readFixtures(tb testing.TB) [][]byte {
	tb.Helper()
	names := fixtures.DiscordNames()
	if len(names) == 0 {
		tb.Fatal("no Discord fixtures")
	}
	bodies := make([][]byte, 0, len(names))
	for _, n := range names {
		b, err := fixtures.ReadDiscord(n)
		if err != nil {
			tb.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	return bodies
}

// ReadFixtures exposes readFixtures to the package's external tests.
var ReadFixtures = readFixtures
