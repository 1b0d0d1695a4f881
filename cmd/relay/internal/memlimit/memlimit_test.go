package memlimit

import (
	"context"
	"log/slog"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestLimitFor(t *testing.T) {
	const base = 128 << 20
	for _, tc := range []struct{ live, want int64 }{
		{0, base},
		{70 << 20, base},         // normal load: the default caps the headroom
		{85 << 20, base},         // 1.5 × 85 MiB < 128 MiB
		{100 << 20, 150 << 20},   // live data outgrew it: keep 50% headroom
		{1 << 30, 1<<30 + 1<<29}, // a 1 h duplicate window at 2,000 frames/s
	} {
		if got := limitFor(base, tc.live); got != tc.want {
			t.Errorf("limitFor(%d MiB live) = %d MiB, want %d MiB", tc.live>>20, got>>20, tc.want>>20)
		}
	}
}

// Govern sets the limit while it runs and leaves a user's
// GOMEMLIMIT alone.
func TestGovern(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	log := slog.New(slog.DiscardHandler)

	debug.SetMemoryLimit(1 << 40)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := Govern(ctx, func(string) string { return "1GiB" }, 64<<20, time.Millisecond, log); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != 1<<40 {
		t.Fatalf("with GOMEMLIMIT set, the limit became %d", got)
	}

	live := make([]byte, 8<<20) // at least 8 MiB live from here on
	runtime.GC()                // the live heap is measured by a collection
	ctx, cancel = context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := Govern(ctx, func(string) string { return "" }, 1<<20, time.Millisecond, log); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got < 12<<20 || got == 1<<40 {
		t.Fatalf("limit after governing = %d, want at least 1.5 × the 8 MiB live", got)
	}
	runtime.KeepAlive(live)
}
