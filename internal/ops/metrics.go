package ops

import (
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metrics are a process's metric families by name: what its /metrics
// serves, parsed with Prometheus's own parser, or what a registry gathers.
type Metrics map[string]*dto.MetricFamily

// ParseMetrics parses the Prometheus text exposition format.
func ParseMetrics(r io.Reader) (Metrics, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("ops: parsing metrics: %w", err)
	}
	return mfs, nil
}

var scrapeClient = &http.Client{Timeout: 5 * time.Second}

// Scrape fetches and parses url (a /metrics endpoint).
func Scrape(url string) (Metrics, error) {
	resp, err := scrapeClient.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("ops: %s: %s", url, resp.Status)
	}
	return ParseMetrics(resp.Body)
}

// Gather returns g's metrics without an HTTP round trip.
func Gather(g prometheus.Gatherer) (Metrics, error) {
	mfs, err := g.Gather()
	if err != nil {
		return nil, err
	}
	m := make(Metrics, len(mfs))
	for _, mf := range mfs {
		m[mf.GetName()] = mf
	}
	return m, nil
}

// Sum adds up the values of the series of family name whose labels include
// every given pair (k1, v1, k2, v2, ...): counters, gauges and untyped
// values as they are, histograms and summaries by their sample count. A
// family that is absent sums to 0.
func (m Metrics) Sum(name string, labels ...string) float64 {
	var sum float64
	for _, s := range m[name].GetMetric() {
		if hasLabels(s, labels) {
			sum += value(s)
		}
	}
	return sum
}

func hasLabels(s *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, l := range s.GetLabel() {
			if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func value(s *dto.Metric) float64 {
	switch {
	case s.Counter != nil:
		return s.Counter.GetValue()
	case s.Gauge != nil:
		return s.Gauge.GetValue()
	case s.Untyped != nil:
		return s.Untyped.GetValue()
	case s.Histogram != nil:
		return float64(s.Histogram.GetSampleCount())
	case s.Summary != nil:
		return float64(s.Summary.GetSampleCount())
	}
	return 0
}
