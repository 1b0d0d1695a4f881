package bench

import (
	"bytes"
	"encoding/json"
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

// TestBenchRun runs relay bench at its smallest: the stack in this
// process, every phase, every event delivered exactly once.
func TestBenchRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline")
	}
	var out, progress bytes.Buffer
	args := []string{"--inbound", "1000", "--egress", "1000", "--rate", "200", "--latency-for", "500ms", "--json"}
	if err := Run(t.Context(), args, func(string) string { return "" }, &out, &progress); err != nil {
		t.Fatalf("Run = %v\n%s", err, progress.String())
	}
	var rep benchReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, out.String())
	}
	if rep.InboundMessages != 1000 || rep.EgressMessages != 1000 || rep.Inbound <= 0 || rep.Egress <= 0 || rep.InboundCeiling <= 0 || rep.LatencyCount == 0 {
		t.Errorf("report = %+v, want every phase measured", rep)
	}
	if rep.Lost != 0 || rep.DuplicatedEvents != 0 || rep.PeakRSSBytes <= 0 {
		t.Errorf("lost %d, duplicated %d, peak RSS %d; want 0, 0 and the process's", rep.Lost, rep.DuplicatedEvents, rep.PeakRSSBytes)
	}
	// The hops add up to no more than the whole (each is measured between
	// store times on the way; the medians of parts need not sum exactly).
	var sum time.Duration
	for _, h := range latencyHops {
		p50, ok := rep.LatencyHopP50[h]
		if !ok || p50 <= 0 {
			t.Errorf("latency hop %s: p50 %v (reported %v), want > 0", h, p50, ok)
		}
		sum += p50
	}
	if sum > 3*rep.LatencyP99 {
		t.Errorf("the hops' medians sum to %v, against a p99 of %v for the whole", sum, rep.LatencyP99)
	}
}
