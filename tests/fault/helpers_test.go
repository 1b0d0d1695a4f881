package fault_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/devconnector"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/services/passthrough-converter/converter"
	"github.com/relaybus/relaybus/services/ws-edge/wsedge"
	"github.com/relaybus/relaybus/tests/internal/relaytest"
)

// Bounds of the waits (generous: the machine is shared and the stages run
// with the race detector).
const (
	startTimeout   = 60 * time.Second
	deliverTimeout = 120 * time.Second
)

// startConverter starts a converter binary against natsURL (see
// [startWorkerStage]).
func startConverter(t *testing.T, natsURL, name string, extra map[string]string) *relaytest.Proc {
	t.Helper()
	return startWorkerStage(t, name, bins.Converter, "CONVERTER", natsURL, extra, nil)
}

// startEgress starts an egress binary against natsURL (see
// [startWorkerStage]) with short send retries, serving relaytest.Platform.
func startEgress(t *testing.T, natsURL, name string, extra map[string]string) *relaytest.Proc {
	t.Helper()
	return startWorkerStage(t, name, bins.Egress, "EGRESS", natsURL, extra, map[string]string{
		"EGRESS_RETRY_BASE":       "50ms",
		"EGRESS_RETRY_MAX":        "1s",
		"GATEWAY_RELAY_PLATFORMS": relaytest.Platform,
	})
}

// startWorkerStage starts the stage binary bin whose variables carry
// prefix (CONVERTER, EGRESS) with its ops listener on a free address,
// NATS_URL natsURL, 8 workers, a 5 s shutdown, text logs and env; extra
// overrides all of it.
func startWorkerStage(t *testing.T, name, bin, prefix, natsURL string, extra, env map[string]string) *relaytest.Proc {
	t.Helper()
	addr := natstest.FreeAddr(t)
	base := map[string]string{
		"NATS_URL":                   natsURL,
		prefix + "_HTTP_ADDR":        addr,
		prefix + "_WORKERS":          "8",
		prefix + "_SHUTDOWN_TIMEOUT": "5s",
		"LOG_FORMAT":                 "text",
	}
	maps.Copy(base, env)
	return startStage(t, name, bin, addr, extra, base)
}

// startStage starts a stage binary with env, extra overriding it.
func startStage(t *testing.T, name, bin, addr string, extra, env map[string]string) *relaytest.Proc {
	t.Helper()
	maps.Copy(env, extra)
	return relaytest.StartProc(t, name, bin, addr, env)
}

func startEdge(t *testing.T, dev *devconnector.Server, natsURL, name string) *relaytest.Proc {
	t.Helper()
	addr := natstest.FreeAddr(t)
	return relaytest.StartProc(t, name, bins.WSEdge, addr, relaytest.EdgeEnv(dev, natsURL, addr, name))
}

// waitMetric waits until the process's metric (summed over the matching
// series) reaches at least min.
func waitMetric(t *testing.T, p *relaytest.Proc, min float64, name string, labels ...string) float64 {
	t.Helper()
	var v float64
	natstest.WaitFor(t, startTimeout, func() error {
		if v = p.Metric(t, name, labels...); v < min {
			return fmt.Errorf("%s %s = %v, want >= %v", p.Name, name, v, min)
		}
		return nil
	})
	return v
}

// waitDrained waits until the connector holds no un-acked frame: every
// buffered frame was stored and acked.
func waitDrained(t *testing.T, dev *devconnector.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deliverTimeout)
	defer cancel()
	if err := dev.WaitDrained(ctx); err != nil {
		t.Fatalf("connector still holds %d un-acked frames: %v (state %+v)", dev.Buffered(), err, dev.State())
	}
}

// waitDrainedStrict waits until the connector holds no un-acked frame, and
// fails fast with a diagnosis when frames are stranded: ws-edge's publish
// pipeline idle after failed publishes while the same frames stay un-acked
// on a live socket for 2 s. The connector replays only after a reconnect
// (contract §1), so such frames would never arrive; ws-edge must retry a
// failed buffered publish itself (it used to leave the frame "for the
// connector to replay", fixed in 697b3d8).
func waitDrainedStrict(t *testing.T, dev *devconnector.Server, edge relaytest.Stage[*wsedge.Service]) {
	t.Helper()
	var last []string
	var since time.Time
	natstest.WaitFor(t, deliverTimeout, func() error {
		ids := dev.BufferedIDs()
		if len(ids) == 0 {
			return nil
		}
		if !slices.Equal(ids, last) {
			last, since = ids, time.Now()
		}
		if edge.Metric(t, "relay_wsedge_publish_failures_total") > 0 &&
			edge.Metric(t, "relay_wsedge_publish_inflight") == 0 && time.Since(since) > 2*time.Second {
			t.Fatalf("%d frames stayed un-acked on a live socket after their publish failed, and will not be replayed: %v", len(ids), ids)
		}
		return fmt.Errorf("connector holds %d un-acked frames (state %+v)", len(ids), dev.State())
	})
}

// faultTest skips t under -short, saying what makes it slow, and runs it in
// parallel with the other fault tests.
func faultTest(t *testing.T, slow string) {
	t.Helper()
	if testing.Short() {
		t.Skip(slow)
	}
	t.Parallel()
}

// serialFaultTest is faultTest for a test that runs alone, before the
// parallel ones: one that runs many processes and thousands of messages
// (the order tests with 6 stage processes), so that it neither starves the
// timing-sensitive tests on a 2-core machine nor is starved, or one that
// sets environment variables (t.Setenv refuses a parallel test). It skips
// t under -short, saying what makes it slow.
func serialFaultTest(t *testing.T, slow string) {
	t.Helper()
	if testing.Short() {
		t.Skip(slow)
	}
}

// runEdgeAndConverter runs ws-edge (fed by dev) and a converter in process
// against natsURL with the bus configuration b, and waits until both are
// ready.
func runEdgeAndConverter(t *testing.T, dev *devconnector.Server, b bus.Config, natsURL string) (relaytest.Stage[*wsedge.Service], relaytest.Stage[*converter.Service]) {
	t.Helper()
	edge := relaytest.RunEdge(t, relaytest.EdgeConfig(dev, b), natsURL)
	conv := relaytest.RunConverter(t, relaytest.ConverterConfig(b), natsURL)
	relaytest.WaitReady(t, startTimeout, edge, conv)
	return edge, conv
}

// checkEveryEventOnce waits until RELAY_RAW is empty and the agent's
// consumer idle, then checks that each of ids was stored once and seen by
// the agent once.
func checkEveryEventOnce(t *testing.T, js jetstream.JetStream, agent *relaytest.Agent, ids []string) {
	t.Helper()
	relaytest.WaitStreamEmpty(t, js, events.RawStream, deliverTimeout)
	relaytest.WaitConsumerIdle(t, js, events.InboundStream, "agent", deliverTimeout)
	natstest.Tally(t, "events stored", ids, relaytest.StoredEvents(t, js))
	natstest.Tally(t, "events seen by the agent", ids, agent.Counts())
}

// startAgent connects an agent to natsURL: its JetStream and the agent
// consuming every event (durable "agent").
func startAgent(t *testing.T, natsURL string) (jetstream.JetStream, *relaytest.Agent) {
	t.Helper()
	js := relaytest.JetStream(t, relaytest.Connect(t, natsURL, "agent"))
	return js, relaytest.StartAgent(t, js, "agent")
}

// startSlowConnector starts a connector that takes d over each send before
// it gives its default answer (its reader answers one send at a time).
func startSlowConnector(t *testing.T, d time.Duration) *devconnector.Server {
	t.Helper()
	return relaytest.StartConnector(t, func(c *devconnector.Config) {
		c.Answer = func(events.Action) map[string]any {
			time.Sleep(d)
			return nil
		}
	})
}

// tallySends checks the outcome of the send actions ids after a replica
// was killed. Results: exactly one stored per action, a success or an
// ambiguous "interrupted" (for one the dead replica had begun writing);
// every result the agent saw (results, when not nil) agrees with it.
// Sends, by action id: never two. A success was written exactly once, an
// ambiguous action at most once (the victim may have died before its
// write began). It returns the ambiguous actions and how many of them the
// connector received.
func tallySends(t *testing.T, js jetstream.JetStream, dev *devconnector.Server, ids []string, results *relaytest.Results) (ambiguous map[string]bool, written int) {
	t.Helper()
	stored := relaytest.StoredResults(t, js)
	storedCount := map[string]int{}
	ambiguous = map[string]bool{}
	for _, id := range ids {
		rs := stored[id]
		storedCount[id] = len(rs)
		if len(rs) != 1 {
			continue
		}
		switch r := rs[0]; {
		case r.Success && r.MessageID != "":
		case r.Ambiguous && r.Error == events.ErrTextInterrupted:
			ambiguous[id] = true
		default:
			t.Errorf("stored result of %s = %+v, want success with a message_id, or ambiguous interrupted", id, r)
		}
		if results == nil {
			continue
		}
		for _, seen := range results.Get(id) {
			if diff := cmp.Diff(rs[0], seen); diff != "" {
				t.Errorf("agent saw a result for %s that differs from the stored one (-stored +seen):\n%s", id, diff)
			}
		}
	}
	natstest.Tally(t, "results stored in RELAY_RESULTS", ids, storedCount)

	counts, _ := relaytest.Sends(dev)
	want := map[string]int{}
	for _, id := range ids {
		want[id] = counts[id]
		if !ambiguous[id] || counts[id] > 1 {
			continue
		}
		want[id] = 1 // count 0 or 1 is fine for an ambiguous action
	}
	natstest.Tally(t, "sends recorded by the connector (ambiguous ones counted as 1 when not written)", ids, want)
	for id := range ambiguous {
		written += counts[id]
	}
	return ambiguous, written
}
