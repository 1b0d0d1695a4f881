// Package backoff is the one retry ladder of relaybus: a delay that starts
// at a minimum, doubles on every consecutive failure up to a cap, with
// jitter, and resets only when the caller says the thing it retries proved
// stable. ws-edge redials the connector along it (relay contract §1); the
// consume loop (package consume, under every stage and the agent client)
// re-creates a lost consumer along it; egress re-creates a lost KV watch
// along it.
//
// A Ladder is not safe for concurrent use: each retry loop owns its own.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Jitter is the fraction of a step the delay may be shortened by, so that
// many processes restarted together do not retry in lockstep.
const Jitter = 0.25

// Delay returns step n (from 0) of the doubling schedule without jitter:
// min·2ⁿ, capped at max (and max when the product overflows).
func Delay(min, max time.Duration, n int) time.Duration {
	if n < 0 {
		n = 0
	}
	if n < 62 && min<<n > 0 && min<<n < max {
		return min << n
	}
	return max
}

// Ladder computes retry delays.
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
	d := Delay(l.min, l.max, l.step)
	l.step++
	return d - time.Duration(float64(d)*Jitter*l.rand())
}

// Reset returns to the bottom of the ladder (after a stable period).
func (l *Ladder) Reset() { l.step = 0 }

// Step returns how many delays were handed out since the last Reset.
func (l *Ladder) Step() int { return l.step }

// Sleep waits for d or until ctx is done, and reports whether the whole of
// d passed (false: ctx ended first).
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
