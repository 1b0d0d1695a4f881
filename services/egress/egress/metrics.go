package egress

import (
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/relaybus/relaybus/internal/ops"
)

// Action outcomes (the outcome label of relay_egress_actions_total).
const (
	outcomeSent        = "sent"        // success result
	outcomeFailed      = "failed"      // the connector answered success:false
	outcomeAmbiguous   = "ambiguous"   // written, outcome unknown; reported, not retried
	outcomeDeclined    = "declined"    // the egress guard declined; dead-lettered
	outcomeUnsupported = "unsupported" // the descriptor does not list the op
	outcomeInvalid     = "invalid"     // bad action; dead-lettered
	outcomeExpired     = "expired"     // deadline passed undelivered; dead-lettered
	outcomeReplayed    = "replayed"    // redelivery answered from the stored result
	outcomeRetry       = "retry"       // not delivered yet; will be retried
)

// Retry reasons (the reason label of relay_egress_retries_total). Only an
// action that was certainly never written is retried.
const (
	retryNoResponders = "no_responders" // no ws-edge subscribed: nobody got it
	retryNotConnected = "not_connected" // ws-edge had no socket, or never began the write
	retryPublish      = "result_publish"
	retryNote         = "writing_note" // the before-write note could not be stored
	// retryConcurrent: another replica holds the same action (a
	// redelivery while this one still had it) and began writing it.
	retryConcurrent = "concurrent_write"
)

// Ambiguity causes (the cause label of relay_egress_ambiguous_total): why an
// action that may have reached the connector has no known outcome.
const (
	causeTimeout     = "timeout"         // written; no outbound_result within ws-edge's timeout
	causeConnLost    = "connection_lost" // written; the socket dropped before its result
	causeEdgeSilent  = "edge_no_answer"  // the edge request got no answer (ws-edge died or NATS failed mid-request)
	causeInterrupted = "interrupted"     // redelivered after a replica stopped between "begun" and a stored result
	causeUnreadable  = "unreadable"      // ws-edge's answer could not be parsed
	causeConnector   = "connector"       // the connector itself answered ambiguous
)

type metrics struct {
	actions *prometheus.CounterVec
	// scopeHits and scopeMisses back two CounterFuncs (and the hit ratio).
	scopeHits   atomic.Uint64
	scopeMisses atomic.Uint64
	scopeGets   *prometheus.CounterVec
	retries     *prometheus.CounterVec
	ambiguous   *prometheus.CounterVec
	identity    *prometheus.CounterVec
	latency     prometheus.Histogram
	parts       prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, s *Service) (*metrics, error) {
	var set ops.MetricSet
	m := &metrics{
		actions: set.CounterVec("relay_egress_actions_total",
			"Actions settled by egress, by op and outcome (sent, failed, ambiguous, declined, unsupported, invalid, expired, replayed, retry).", "op", "outcome"),
		scopeGets: set.CounterVec("relay_egress_scope_kv_gets_total",
			"KV gets made for a scope cache miss, by result (found, not_found, error).", "result"),
		retries: set.CounterVec("relay_egress_retries_total",
			"Deliveries of an action that ended in a retry, by reason.", "reason"),
		ambiguous: set.CounterVec("relay_egress_ambiguous_total",
			"Actions settled as ambiguous (may have reached the connector, outcome unknown; never retried), by cause.", "cause"),
		identity: set.CounterVec("relay_egress_identity_tags_total",
			"Outbound frames tagged by egress with the identity (platform, bot id) the chat's traffic came in on, by platform.", "platform"),
		latency: set.Histogram("relay_egress_action_latency_seconds",
			"Time from an action being stored in RELAY_OUTBOUND to its definitive result being published.",
			prometheus.ExponentialBuckets(0.0001, 2.5, 16)),
		parts: set.Histogram("relay_egress_send_parts",
			"Number of platform messages a send was split into.",
			[]float64{1, 2, 3, 4, 6, 10, 20}),
	}
	entries := func(cache string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "relay_egress_cache_entries",
			Help:        "Entries held by egress's local KV caches.",
			ConstLabels: prometheus.Labels{"cache": cache},
		}, f)
	}
	set.Add(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "relay_egress_scope_cache_hits_total",
			Help: "Chat-addressed actions whose scope came from the local cache.",
		}, func() float64 { return float64(m.scopeHits.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "relay_egress_scope_cache_misses_total",
			Help: "Chat-addressed actions whose chat was not in the local scope cache.",
		}, func() float64 { return float64(m.scopeMisses.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "relay_egress_scope_cache_hit_ratio",
			Help: "Scope cache hits / lookups since start (1 when there were none).",
		}, func() float64 {
			h, mi := float64(m.scopeHits.Load()), float64(m.scopeMisses.Load())
			if h+mi == 0 {
				return 1
			}
			return h / (h + mi)
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "relay_egress_scope_cache_evictions_total",
			Help: "Scope records forgotten by the local cache because it was full (EGRESS_SCOPE_CACHE); each costs a KV get when its chat is next addressed.",
		}, func() float64 { return float64(s.scopes.Evictions()) }),
		entries("scope", func() float64 { return float64(s.scopes.Len()) }),
		entries("descriptor", func() float64 { return float64(s.descs.Len()) }),
	)
	if err := set.Register(reg); err != nil {
		return nil, fmt.Errorf("registering egress metrics: %w", err)
	}
	return m, nil
}
