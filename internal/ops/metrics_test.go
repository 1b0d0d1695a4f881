package ops_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/relaybus/relaybus/internal/ops"
)

const exposition = `# HELP relay_x_total things
# TYPE relay_x_total counter
relay_x_total{outcome="sent",op="send"} 3
relay_x_total{outcome="sent",op="edit"} 2
relay_x_total{outcome="failed",op="send"} 1
# TYPE relay_x_total_more counter
relay_x_total_more 100
# TYPE relay_g gauge
relay_g 7.5
# TYPE relay_h_seconds histogram
relay_h_seconds_bucket{le="1"} 4
relay_h_seconds_bucket{le="+Inf"} 5
relay_h_seconds_sum 2.5
relay_h_seconds_count 5
`

func TestMetricsSum(t *testing.T) {
	m, err := ops.ParseMetrics(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"relay_x_total", nil, 6},
		{"relay_x_total", []string{"outcome", "sent"}, 5},
		{"relay_x_total", []string{"outcome", "sent", "op", "send"}, 3},
		{"relay_x_total", []string{"outcome", "other"}, 0},
		{"relay_x_total_more", nil, 100},
		{"relay_g", nil, 7.5},
		{"relay_h_seconds", nil, 5},
		{"relay_absent", nil, 0},
	} {
		if got := m.Sum(tt.name, tt.labels...); got != tt.want {
			t.Errorf("Sum(%s, %v) = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	if _, err := ops.ParseMetrics(strings.NewReader("relay_x{ 1\n")); err == nil {
		t.Error("ParseMetrics accepted a broken exposition")
	}
}

func TestGather(t *testing.T) {
	reg := ops.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relay_y_total"}, []string{"k"})
	reg.MustRegister(c)
	c.WithLabelValues("a").Add(2)
	m, err := ops.Gather(reg)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Sum("relay_y_total", "k", "a"); got != 2 {
		t.Errorf("relay_y_total{k=a} = %v, want 2", got)
	}
	if m.Sum("process_resident_memory_bytes") <= 0 || m.Sum("go_goroutines") <= 0 {
		t.Error("the process and Go collectors are missing")
	}
}

func TestMetricSet(t *testing.T) {
	var s ops.MetricSet
	c := s.Counter("relay_c_total", "c")
	v := s.CounterVec("relay_v_total", "v", "k")
	g := s.Gauge("relay_g", "g")
	h := s.Histogram("relay_h_seconds", "h", []float64{1})
	s.Add(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "relay_f", Help: "f"}, func() float64 { return 4 }))
	if err := s.Register(nil); err != nil {
		t.Fatalf("Register(nil) = %v", err)
	}
	reg := prometheus.NewPedanticRegistry()
	if err := s.Register(reg); err != nil {
		t.Fatal(err)
	}
	c.Inc()
	v.WithLabelValues("a").Add(2)
	g.Set(3)
	h.Observe(0.5)
	m, err := ops.Gather(reg)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{
		"relay_c_total": 1, "relay_v_total": 2, "relay_g": 3, "relay_h_seconds": 1, "relay_f": 4,
	} {
		if got := m.Sum(name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if err := s.Register(reg); err == nil {
		t.Error("registering the set twice succeeded")
	}
}
