package backoff_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/relaybus/relaybus/services/ws-edge/internal/backoff"
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
