package ops

import "github.com/prometheus/client_golang/prometheus"

// A MetricSet declares a stage's metrics and registers them together, so a
// metric cannot be declared and then left out of the registration. The zero
// value is ready to use.
type MetricSet struct {
	cs []prometheus.Collector
}

// Counter declares a counter.
func (s *MetricSet) Counter(name, help string) prometheus.Counter {
	return add(s, prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help}))
}

// CounterVec declares a counter with the given label names.
func (s *MetricSet) CounterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return add(s, prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels))
}

// Gauge declares a gauge.
func (s *MetricSet) Gauge(name, help string) prometheus.Gauge {
	return add(s, prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help}))
}

// Histogram declares a histogram with the given bucket upper bounds.
func (s *MetricSet) Histogram(name, help string, buckets []float64) prometheus.Histogram {
	return add(s, prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}))
}

// Add declares collectors built elsewhere (CounterFuncs, GaugeFuncs, ...).
func (s *MetricSet) Add(cs ...prometheus.Collector) {
	s.cs = append(s.cs, cs...)
}

// Register registers every metric of the set with reg, in the order they
// were declared, and stops at the first error. A nil reg registers nothing:
// the metrics still count, nobody scrapes them.
func (s *MetricSet) Register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	for _, c := range s.cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func add[C prometheus.Collector](s *MetricSet, c C) C {
	s.cs = append(s.cs, c)
	return c
}
