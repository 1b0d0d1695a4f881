package wsedge

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/relaybus/relaybus/pkg/wire"
)

// Socket states of the relay_wsedge_socket_state gauge.
const (
	stateDown       = 0
	stateConnected  = 1
	stateHandshaken = 2
)

// Outcomes of the relay_wsedge_outbound_results_total counter.
const (
	outcomeSuccess      = "success"
	outcomeFailure      = "failure"
	outcomeNotConnected = "not_connected"
	outcomeConnLost     = "connection_lost"
	outcomeTimeout      = "timeout"
	outcomeInterrupt    = "interrupt_written"
	outcomeBadRequest   = "bad_request"
)

// typeLabelOther is the frames_total label of every type the contract does
// not name, so that a connector cannot grow the label set without bound.
const typeLabelOther = "other"

var knownFrameTypes = []string{
	wire.FrameDescriptor, wire.FrameInbound, wire.FramePassthroughForward,
	wire.FrameOutboundResult, wire.FrameInterruptInbound, wire.FrameGoingIdleAck,
}

type metrics struct {
	frames         map[string]prometheus.Counter // by known type
	framesOther    prometheus.Counter
	badFrames      *prometheus.CounterVec
	publishSeconds prometheus.Histogram
	publishFailed  prometheus.Counter
	framesLost     prometheus.Counter
	acks           prometheus.Counter
	duplicates     prometheus.Counter
	outbound       *prometheus.CounterVec
	unmatched      prometheus.Counter
	internalKeys   prometheus.Counter
	reconnects     prometheus.Counter
	socketState    prometheus.Gauge
	revoked        prometheus.Gauge
	inflight       prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	framesVec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "relay_wsedge_frames_total",
		Help: "Well-formed connector frames received, by frame type (other: types the contract does not name).",
	}, []string{"type"})
	m := &metrics{
		frames:      make(map[string]prometheus.Counter, len(knownFrameTypes)),
		framesOther: framesVec.WithLabelValues(typeLabelOther),
		badFrames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_wsedge_bad_frames_total",
			Help: "Connector frames rejected, by reason (dead-lettered where there were bytes to keep).",
		}, []string{"reason"}),
		publishSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "relay_wsedge_publish_seconds",
			Help:    "Time from reading a frame to JetStream acknowledging its publish.",
			Buckets: []float64{.0002, .0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		publishFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "relay_wsedge_publish_failures_total",
			Help: "Publishes JetStream did not acknowledge (buffered frames stay un-acked and are replayed by the connector).",
		}),
		framesLost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "relay_wsedge_frames_lost_total",
			Help: "Unbuffered frames given up after every publish retry failed.",
		}),
		acks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "relay_wsedge_acks_total",
			Help: "inbound_ack frames written to the connector.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "relay_wsedge_duplicates_total",
			Help: "Replayed buffered frames JetStream absorbed as duplicates (acked again, not stored twice).",
		}),
		outbound: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_wsedge_outbound_results_total",
			Help: "Edge outbound requests answered, by outcome.",
		}, []string{"outcome"}),
		unmatched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "relay_wsedge_outbound_unmatched_total",
			Help: "outbound_result frames with an unknown or already answered requestId (ignored).",
		}),
		internalKeys: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "relay_wsedge_internal_metadata_keys_stripped_total",
			Help: "Internal metadata keys (beginning with _) removed from outbound actions before they were written.",
		}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "relay_wsedge_reconnects_total",
			Help: "Dials after the first one.",
		}),
		socketState: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "relay_wsedge_socket_state",
			Help: "Connector socket: 0 down, 1 connected, 2 handshaken.",
		}),
		revoked: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "relay_wsedge_revoked",
			Help: "1 once the connector revoked the relay credential (ws-edge stopped dialing).",
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "relay_wsedge_publish_inflight",
			Help: "JetStream publishes awaiting their acknowledgement.",
		}),
	}
	for _, t := range knownFrameTypes {
		m.frames[t] = framesVec.WithLabelValues(t)
	}
	for _, c := range []prometheus.Collector{
		framesVec, m.badFrames, m.publishSeconds, m.publishFailed, m.framesLost, m.acks, m.duplicates,
		m.outbound, m.unmatched, m.internalKeys, m.reconnects, m.socketState, m.revoked, m.inflight,
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) frame(typ string) {
	if c, ok := m.frames[typ]; ok {
		c.Inc()
		return
	}
	m.framesOther.Inc()
}
