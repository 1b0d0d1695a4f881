package fault_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/devconnector"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/services/ws-edge/wsedge"
	"github.com/relaybus/relaybus/tests/internal/relaytest"
)

// Bounds of the waits (generous: the machine is shared and the stages run
// with the race detector).
const (
	startTimeout   = 60 * time.Second
	deliverTimeout = 120 * time.Second
)

func startConverter(t *testing.T, natsURL, name string) *relaytest.Proc {
	t.Helper()
	addr := natstest.FreeAddr(t)
	return relaytest.StartProc(t, name, bins.Converter, addr, map[string]string{
		"NATS_URL":                   natsURL,
		"CONVERTER_HTTP_ADDR":        addr,
		"CONVERTER_WORKERS":          "8",
		"CONVERTER_SHUTDOWN_TIMEOUT": "5s",
		"LOG_FORMAT":                 "text",
	})
}

func startEgress(t *testing.T, natsURL, name string, extra map[string]string) *relaytest.Proc {
	t.Helper()
	addr := natstest.FreeAddr(t)
	env := map[string]string{
		"NATS_URL":                natsURL,
		"EGRESS_HTTP_ADDR":        addr,
		"EGRESS_WORKERS":          "8",
		"EGRESS_SHUTDOWN_TIMEOUT": "5s",
		"EGRESS_RETRY_BASE":       "50ms",
		"EGRESS_RETRY_MAX":        "1s",
		"GATEWAY_RELAY_PLATFORMS": relaytest.Platform,
		"LOG_FORMAT":              "text",
	}
	for k, v := range extra {
		env[k] = v
	}
	return relaytest.StartProc(t, name, bins.Egress, addr, env)
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
