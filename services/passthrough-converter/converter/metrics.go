package converter

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/relaybus/relaybus/internal/ops"
)

type metrics struct {
	converted   *prometheus.CounterVec
	dropped     *prometheus.CounterVec
	scopeWrites *prometheus.CounterVec
	lag         prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	var set ops.MetricSet
	m := &metrics{
		converted: set.CounterVec("relay_converter_events_total",
			"Events and interrupts published, by kind.", "kind"),
		dropped: set.CounterVec("relay_converter_dropped_total",
			"Raw frames that produced no event, by reason (ping, autocomplete, unknown_type, already_stored: "+
				"a redelivered frame whose event was stored before, or a bad-input reason).", "reason"),
		scopeWrites: set.CounterVec("relay_converter_scope_total",
			"Scope records per event: written to KV, or unchanged (no write).", "result"),
		lag: set.Histogram("relay_converter_lag_seconds",
			"Time from ws-edge reading a frame to the converter handling it.",
			prometheus.ExponentialBuckets(0.0001, 2.5, 14)),
	}
	if err := set.Register(reg); err != nil {
		return nil, fmt.Errorf("registering converter metrics: %w", err)
	}
	return m, nil
}

func (m *metrics) observeLag(receivedAt string, now time.Time) {
	if receivedAt == "" {
		return
	}
	t, err := time.Parse(time.RFC3339Nano, receivedAt)
	if err != nil {
		return
	}
	m.lag.Observe(now.Sub(t).Seconds())
}
