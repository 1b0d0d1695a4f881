package main

import (
	"math"
	"testing"
	"time"
)

func TestSlopePerMinute(t *testing.T) {
	rss := func(s soakSample) float64 { return float64(s.RSSBytes) }
	var rising, flat []soakSample
	for i := range 10 {
		at := time.Duration(i) * 30 * time.Second
		rising = append(rising, soakSample{At: at, RSSBytes: 100e6 + int64(i)*5e6}) // +5 MB per 30 s
		flat = append(flat, soakSample{At: at, RSSBytes: 150e6 + int64(i%2)*20e6})  // a sawtooth
	}
	if got := slopePerMinute(rising, rss); math.Abs(got-10e6) > 1 {
		t.Errorf("rising: slope = %.0f B/min, want 10e6", got)
	}
	if got := slopePerMinute(flat, rss); math.Abs(got) > 2e6 { // 20 MB of sawtooth, no trend
		t.Errorf("sawtooth: slope = %.0f B/min, want about 0", got)
	}
	if got := slopePerMinute(rising[:1], rss); got != 0 {
		t.Errorf("one sample: slope = %v, want 0", got)
	}
}
