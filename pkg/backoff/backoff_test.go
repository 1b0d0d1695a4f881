package backoff_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/relaybus/relaybus/pkg/backoff"
)

func TestLadder(t *testing.T) {
	tests := []struct {
		name     string
		min, max time.Duration
		rnd      float64
		want     []time.Duration
	}{
		{"NoJitter", time.Second, 30 * time.Second, 0, []time.Duration{
			time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second,
		}},
		{"FullJitter", time.Second, 4 * time.Second, 1, []time.Duration{
			750 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second, 3 * time.Second,
		}},
		{"MaxBelowMin", time.Second, time.Millisecond, 0, []time.Duration{time.Second, time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := backoff.New(tt.min, tt.max, func() float64 { return tt.rnd })
			var got []time.Duration
			for range tt.want {
				got = append(got, l.Next())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("delays (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLadderResetAndOverflow(t *testing.T) {
	l := backoff.New(time.Second, 30*time.Second, func() float64 { return 0 })
	for range 100 {
		if d := l.Next(); d <= 0 || d > 30*time.Second {
			t.Fatalf("Next() = %v after %d steps, want within (0, 30s]", d, l.Step())
		}
	}
	l.Reset()
	if d := l.Next(); d != time.Second {
		t.Errorf("Next() after Reset = %v, want 1s", d)
	}
}

func TestDelay(t *testing.T) {
	tests := []struct {
		n    int
		want time.Duration
	}{
		{-1, 250 * time.Millisecond},
		{0, 250 * time.Millisecond},
		{1, 500 * time.Millisecond},
		{6, 16 * time.Second},
		{7, 30 * time.Second},
		{62, 30 * time.Second},
		{1000, 30 * time.Second},
	}
	for _, tt := range tests {
		if got := backoff.Delay(250*time.Millisecond, 30*time.Second, tt.n); got != tt.want {
			t.Errorf("Delay(250ms, 30s, %d) = %v, want %v", tt.n, got, tt.want)
		}
	}
	// A product that overflows is the cap, not a negative delay.
	if got := backoff.Delay(time.Hour, 1<<62, 40); got != 1<<62 {
		t.Errorf("Delay overflowing = %v, want the cap", got)
	}
}

func TestSleep(t *testing.T) {
	if !backoff.Sleep(t.Context(), time.Millisecond) {
		t.Error("Sleep(1ms) = false, want true")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	if backoff.Sleep(ctx, time.Hour) {
		t.Error("Sleep on a done context = true, want false")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Sleep on a done context took %v", d)
	}
}
