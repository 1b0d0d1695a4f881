package fault_test

import (
	"context"
	"testing"
	"time"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/tests/internal/relaytest"
)

// TestClusterNodeLoss runs the pipeline against a three-node JetStream
// cluster with every stream and bucket replicated three times
// (RELAY_STREAM_REPLICAS=3) and shuts down the node leading RELAY_RAW
// mid-stream. The stages, connected to all three URLs, move to the
// survivors; the streams elect new leaders; every event must reach the
// agent exactly once.
func TestClusterNodeLoss(t *testing.T) {
	faultTest(t, "runs a three-node NATS cluster")
	const n = 2000
	cl := relaytest.StartCluster(t, 3)
	urls := cl.URLs()
	dev := relaytest.StartConnector(t)
	b := bus.DefaultConfig()
	b.Replicas = 3
	edge, conv := runEdgeAndConverter(t, dev, b, urls)
	js, agent := startAgent(t, urls)

	p := relaytest.Produce(t, dev, "clu", n, 2*time.Millisecond)
	p.WaitSent(t, n/2, startTimeout)
	agent.WaitDistinct(t, 1, startTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	st, err := js.Stream(ctx, events.RawStream)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	cancel()
	if err != nil || info.Cluster == nil || info.Config.Replicas != 3 {
		t.Fatalf("RELAY_RAW info = %+v, %v; want a replicated stream (R3)", info, err)
	}
	leader := info.Cluster.Leader
	down := time.Now()
	cl.Shutdown(t, leader)
	t.Logf("shut down %s (leader of RELAY_RAW) with %d events seen so far", leader, agent.Distinct())

	ids := p.Wait(t, startTimeout)
	waitDrainedStrict(t, dev, edge)
	agent.WaitDistinct(t, len(ids), deliverTimeout)
	t.Logf("agent saw every event %v after the node went down", time.Since(down).Round(time.Millisecond))
	checkEveryEventOnce(t, js, agent, ids)
	_, redeliveries, _ := agent.Stats()
	t.Logf("agent-side redeliveries (acks lost in the fail-over): %d", redeliveries)
	waitLive(t, edge, conv)
}

// TestClusterStagesStartTogether starts ws-edge, a converter and egress at
// the same time against a fresh three-node cluster with R3 streams: they
// must all be ready within 40 s. (Regression: bus.Ensure used
// create-or-update, which nats-server 2.15 left unanswered for seconds per
// stream when several stages sent it at once. Since issue #13 each of the
// converter and egress also creates 17 consumers, each an R3 raft group of
// its own: ready took 12.8-24.8 s on a loaded 2-core machine.)
func TestClusterStagesStartTogether(t *testing.T) {
	faultTest(t, "runs a three-node NATS cluster")
	cl := relaytest.StartCluster(t, 3)
	dev := relaytest.StartConnector(t)
	b := bus.DefaultConfig()
	b.Replicas = 3
	start := time.Now()
	edge := relaytest.RunEdge(t, relaytest.EdgeConfig(dev, b), cl.Servers[0].ClientURL())
	conv := relaytest.RunConverter(t, relaytest.ConverterConfig(b), cl.Servers[1].ClientURL())
	eg := relaytest.RunEgress(t, relaytest.EgressConfig(b), cl.Servers[2].ClientURL())
	relaytest.WaitReady(t, 40*time.Second, edge, conv, eg)
	t.Logf("all stages ready %v after they started", time.Since(start).Round(time.Millisecond))
}
