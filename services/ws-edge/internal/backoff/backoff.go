// Package backoff is the reconnect ladder of the relay contract (§1): a delay
// that starts at a minimum, doubles on every consecutive failure up to a cap,
// with jitter, and resets only when the caller says a connection proved
// stable. A Ladder is not safe for concurrent use; ws-edge has exactly one
// dialer.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Jitter is the fraction of a step the delay may be shortened by, so that
// many gateways restarted together do not redial in lockstep.
const Jitter = 0.25

// Ladder computes reconnect delays.
type Ladder struct {
	min, max time.Duration
	step     int
	rand     func() float64
}

// New returns a ladder from min to max (max < min is raised to min). rnd
// returns a value in [0, 1); nil uses math/rand/v2.
func New(min, max time.Duration, rnd func() float64) *Ladder {
	if min <= 0 {
		min = time.Millisecond
	}
	if max < min {
		max = min
	}
	if rnd == nil {
		rnd = rand.Float64
	}
	return &Ladder{min: min, max: max, rand: rnd}
}

// Next returns the delay before the next attempt and climbs one step: min,
// 2×min, 4×min … capped at max, each shortened by up to Jitter.
func (l *Ladder) Next() time.Duration {
	d := l.max
	if l.step < 62 && l.min<<l.step > 0 && l.min<<l.step < l.max {
		d = l.min << l.step
	}
	l.step++
	return d - time.Duration(float64(d)*Jitter*l.rand())
}

// Reset returns to the bottom of the ladder (after a stable connection).
func (l *Ladder) Reset() { l.step = 0 }

// Step returns how many delays were handed out since the last Reset.
func (l *Ladder) Step() int { return l.step }
