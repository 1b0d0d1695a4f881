// Package memlimit keeps a relay process's soft memory limit (the Go
// runtime's GOMEMLIMIT) low while the live heap is small and above it when
// live data grows: the all-in-one and relay bench run it.
package memlimit

import (
	"context"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Default is the all-in-one process's soft memory limit unless GOMEMLIMIT
// says otherwise: under sustained load the Go heap would otherwise grow to
// twice the live data between collections. 112 MiB (128 MiB until session
// 8): at 2,000 frames/s the live heap is ≈ 68 MB and RSS runs ≈ 15–20 MB
// above the limit (stacks, unscavenged spans), so 128 MiB left the
// all-in-one at 144–161 MB RSS, over issue #15's 150 MB. 112 MiB held it
// at 130–139 MB in 150 s soaks (145–158 MB once RELAY_INBOUND is full and
// the server discards) for 1–2 % more CPU (4.2 collections a second instead of
// 2.7); 96 MiB held 115–123 MB but cost 5 % more CPU (6.7 a second) and
// left so little headroom that a backlog took RSS to 184 MB
// (docs/performance.md, Memory, session 8).
const Default = 112 << 20

// limitFor is the soft limit for a live heap of live bytes: the default,
// or 1.5 × live once the live data outgrows it.
func limitFor(base, live int64) int64 {
	return max(base, live+live/2)
}

// Govern keeps the all-in-one's soft memory limit above its live heap
// until ctx ends. The fixed default caps the GC's headroom, which is what
// keeps RSS low; but live data can legitimately outgrow it (NATS keeps every
// de-duplication id of the server windows, RELAY_RAW_DUPLICATE_WINDOW and
// the others, in memory, about 125 B each),
// and a limit below the live heap makes the GC run back to back on half the
// CPU: the relay then falls behind instead of using the memory. Each period
// the limit becomes limitFor(base, live); raises of a quarter or more are
// logged. When GOMEMLIMIT is set it changes nothing and only waits. It
// returns nil when ctx is done.
func Govern(ctx context.Context, getenv func(string) string, base int64, period time.Duration, log *slog.Logger) error {
	if getenv("GOMEMLIMIT") != "" {
		<-ctx.Done()
		return nil
	}
	debug.SetMemoryLimit(base)
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	logged := base
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			continue
		}
		limit := limitFor(base, int64(sample[0].Value.Uint64()))
		debug.SetMemoryLimit(limit)
		if limit >= logged+logged/4 || (limit < logged && limit == base) {
			log.Info("soft memory limit follows the live heap", "live_bytes", sample[0].Value.Uint64(), "limit_bytes", limit,
				"hint", "de-duplication ids cost ~125 B each over the server windows (RELAY_RAW_DUPLICATE_WINDOW, ...); set GOMEMLIMIT to fix the limit")
			logged = limit
		}
	}
}
