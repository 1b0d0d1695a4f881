package wsedge

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/relaybus/relaybus/internal/ops"
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

	ackLogBatches   prometheus.Counter
	ackLogIDs       prometheus.Counter
	ackLogFailed    prometheus.Counter
	ackLogBad       prometheus.Counter
	ackLogLoaded    prometheus.Counter
	replaySetIDs    prometheus.Gauge
	replaysAbsorbed prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	var set ops.MetricSet
	framesVec := set.CounterVec("relay_wsedge_frames_total",
		"Well-formed connector frames received, by frame type (other: types the contract does not name).", "type")
	m := &metrics{
		frames:      make(map[string]prometheus.Counter, len(knownFrameTypes)),
		framesOther: framesVec.WithLabelValues(typeLabelOther),
		badFrames: set.CounterVec("relay_wsedge_bad_frames_total",
			"Connector frames rejected, by reason (dead-lettered where there were bytes to keep).", "reason"),
		publishSeconds: set.Histogram("relay_wsedge_publish_seconds",
			"Time from reading a frame to JetStream acknowledging its publish.",
			[]float64{.0002, .0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}),
		publishFailed: set.Counter("relay_wsedge_publish_failures_total",
			"Publishes JetStream did not acknowledge (buffered frames stay un-acked and are replayed by the connector)."),
		framesLost: set.Counter("relay_wsedge_frames_lost_total",
			"Unbuffered frames given up after every publish retry failed."),
		acks: set.Counter("relay_wsedge_acks_total",
			"inbound_ack frames written to the connector."),
		duplicates: set.Counter("relay_wsedge_duplicates_total",
			"Replayed buffered frames JetStream absorbed as duplicates (acked again, not stored twice)."),
		outbound: set.CounterVec("relay_wsedge_outbound_results_total",
			"Edge outbound requests answered, by outcome.", "outcome"),
		unmatched: set.Counter("relay_wsedge_outbound_unmatched_total",
			"outbound_result frames with an unknown or already answered requestId (ignored)."),
		internalKeys: set.Counter("relay_wsedge_internal_metadata_keys_stripped_total",
			"Internal metadata keys (beginning with _) removed from outbound actions before they were written."),
		reconnects: set.Counter("relay_wsedge_reconnects_total",
			"Dials after the first one."),
		socketState: set.Gauge("relay_wsedge_socket_state",
			"Connector socket: 0 down, 1 connected, 2 handshaken."),
		revoked: set.Gauge("relay_wsedge_revoked",
			"1 once the connector revoked the relay credential (ws-edge stopped dialing)."),
		inflight: set.Gauge("relay_wsedge_publish_inflight",
			"JetStream publishes awaiting their acknowledgement."),
		ackLogBatches: set.Counter("relay_wsedge_acklog_batches_total",
			"Ack batches stored in RELAY_ACKLOG (each holds the hashes of many acked bufferIds)."),
		ackLogIDs: set.Counter("relay_wsedge_acklog_ids_total",
			"bufferIds logged in RELAY_ACKLOG before their inbound_ack was written."),
		ackLogFailed: set.Counter("relay_wsedge_acklog_failures_total",
			"Ack batch publishes that failed and were retried (their acks wait)."),
		ackLogBad: set.Counter("relay_wsedge_acklog_bad_batches_total",
			"Ack log messages that did not decode at a load (skipped)."),
		ackLogLoaded: set.Counter("relay_wsedge_acklog_loaded_ids_total",
			"Distinct bufferId hashes loaded from the ack log at connects (the acks of each writer's last WSEDGE_ACK_HORIZON)."),
		replaySetIDs: set.Gauge("relay_wsedge_replay_set_ids",
			"bufferId hashes held in memory to absorb replays (loaded at the last connect, dropped twice WSEDGE_ACK_HORIZON later)."),
		replaysAbsorbed: set.Counter("relay_wsedge_replays_absorbed_total",
			"Replayed buffered frames found in the ack log: acked (and logged again), not stored again."),
	}
	for _, t := range knownFrameTypes {
		m.frames[t] = framesVec.WithLabelValues(t)
	}
	if err := set.Register(reg); err != nil {
		return nil, err
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
