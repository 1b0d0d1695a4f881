package converter

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	converted   *prometheus.CounterVec
	dropped     *prometheus.CounterVec
	scopeWrites *prometheus.CounterVec
	lag         prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		converted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_converter_events_total", Help: "Events and interrupts published, by kind.",
		}, []string{"kind"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_converter_dropped_total", Help: "Raw frames that produced no event, by reason (ping, autocomplete, unknown_type, or a bad-input reason).",
		}, []string{"reason"}),
		scopeWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_converter_scope_total", Help: "Scope records per event: written to KV, or unchanged (no write).",
		}, []string{"result"}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "relay_converter_lag_seconds", Help: "Time from ws-edge reading a frame to the converter handling it.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 14),
		}),
	}
	for _, c := range []prometheus.Collector{m.converted, m.dropped, m.scopeWrites, m.lag} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering converter metrics: %w", err)
		}
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
