package agent

import "time"

// SetStableAfter sets how long a consumer must stay live for its loss to
// restart the re-create backoff, until the returned function restores it.
func SetStableAfter(d time.Duration) (restore func()) {
	old := stableAfter
	stableAfter = d
	return func() { stableAfter = old }
}

// SetWatchEvery sets how often Run asks whether JetStream answers, until
// the returned function restores the default.
func SetWatchEvery(d time.Duration) (restore func()) {
	old := watchEvery
	watchEvery = d
	return func() { watchEvery = old }
}
