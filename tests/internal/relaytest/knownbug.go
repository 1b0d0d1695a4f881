package relaytest

import (
	"os"
	"testing"
)

// KnownBugsEnv names the environment variable that runs the tests which
// reproduce known, reported bugs (RELAYBUS_KNOWN_BUGS=1).
const KnownBugsEnv = "RELAYBUS_KNOWN_BUGS"

// ReproducesKnownBug skips a test that exists to reproduce a known,
// reported bug (it fails until the bug is fixed) unless
// RELAYBUS_KNOWN_BUGS=1. Remove the call once the bug is fixed, and the
// test guards against its return.
func ReproducesKnownBug(tb testing.TB, bug string) {
	tb.Helper()
	if os.Getenv(KnownBugsEnv) != "1" {
		tb.Skipf("KNOWN BUG %s: skipped; set %s=1 to reproduce it", bug, KnownBugsEnv)
	}
}
