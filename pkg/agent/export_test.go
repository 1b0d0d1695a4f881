package agent

import "time"

// SetStableAfter sets how long a consumer must stay live for its loss to
// restart the re-create backoff, until the returned function restores it.
func SetStableAfter(d time.Duration) (restore func()) {
	old := stableAfter
	stableAfter = d
	return func() { stableAfter = old }
}
