//go:build race

package relaytest

// Race reports whether the test binary was built with the race detector; the
// stage binaries are then built with it too.
const Race = true
