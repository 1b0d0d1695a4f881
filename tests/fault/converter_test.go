package fault_test

import (
	"fmt"
	"github.com/relaybus/relaybus/pkg/natstest"
	"testing"
	"time"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/tests/internal/relaytest"
)

// TestConverterKill9 kills one of two converter replicas (real processes)
// with SIGKILL mid-stream. The frames it held un-acked are redelivered to
// the survivor once the consumer's ack wait (30 s, fixed in the converter)
// passes, and the events' Nats-Msg-Id (derived from the bufferId) absorbs
// any frame the dead replica had already converted.
func TestConverterKill9(t *testing.T) {
	faultTest(t, "runs converter processes and waits out a 30s ack wait")
	const n = 2000
	ns := relaytest.StartNATS(t)
	dev := relaytest.StartConnector(t)
	edge := relaytest.RunEdge(t, relaytest.EdgeConfig(dev, bus.DefaultConfig()), ns.URL())
	convA := startConverter(t, ns.URL(), "converter-a", nil)
	convB := startConverter(t, ns.URL(), "converter-b", nil)
	convA.WaitReady(t, startTimeout)
	convB.WaitReady(t, startTimeout)
	relaytest.WaitReady(t, startTimeout, edge)
	js, agent := startAgent(t, ns.URL())

	p := relaytest.Produce(t, dev, "conv", n, 2*time.Millisecond)
	p.WaitSent(t, n/2, startTimeout)
	// The victim must have taken its share of the stream before it dies:
	// with partitions, the replica that holds partitions is whichever the
	// server pinned first, so the victim is the one converting.
	var convertedA float64
	natstest.WaitFor(t, startTimeout, func() error {
		a, b := convA.Metric(t, "relay_converter_events_total"), convB.Metric(t, "relay_converter_events_total")
		if a == 0 && b == 0 {
			return fmt.Errorf("no converter has converted yet")
		}
		if b > a {
			convA, convB = convB, convA
			a = b
		}
		convertedA = a
		return nil
	})
	pending := relaytest.ConsumerInfo(t, js, events.RawStream, "passthrough-converter").NumAckPending
	convA.Kill9(t)
	t.Logf("killed %s (pid gone) after it converted %v events; %d raw frames awaiting ack at the kill (unkeyed durable)", convA.Name, convertedA, pending)

	ids := p.Wait(t, startTimeout)
	agent.WaitDistinct(t, len(ids), deliverTimeout)
	waitDrained(t, dev)
	checkEveryEventOnce(t, js, agent, ids)
	deliveries, redeliveries, bad := agent.Stats()
	t.Logf("agent: %d deliveries, %d agent-side redeliveries, %d undecodable; converter-b converted %v",
		deliveries, redeliveries, bad, convB.Metric(t, "relay_converter_events_total"))
	if bad != 0 {
		t.Errorf("agent got %d undecodable events", bad)
	}
	if err := convB.Live(); err != nil {
		t.Errorf("surviving converter: %v", err)
	}
}
