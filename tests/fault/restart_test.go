package fault_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/tests/internal/relaytest"
)

// TestNATSRestart shuts the NATS server down mid-stream and starts it again
// on the same port and store. The stages are connected over TCP and
// reconnect; frames whose publish did not complete are replayed by the
// connector or re-published, and de-duplicated. Every event must reach the
// agent exactly once, and afterwards every consumer must have resumed:
// the stages are ready again and a round of actions is sent exactly once.
func TestNATSRestart(t *testing.T) {
	faultTest(t, "restarts a NATS server mid-stream")
	const n = 2000
	ns := relaytest.StartNATS(t)
	dev := relaytest.StartConnector(t)
	b := bus.DefaultConfig()
	edge, conv := runEdgeAndConverter(t, dev, b, ns.URL())
	eg := relaytest.RunEgress(t, relaytest.EgressConfig(b), ns.URL())
	relaytest.WaitReady(t, startTimeout, eg)
	nc := relaytest.Connect(t, ns.URL(), "agent")
	js := relaytest.JetStream(t, nc)
	agent := relaytest.StartAgent(t, js, "agent")
	results := relaytest.SubscribeResults(t, nc)

	p := relaytest.Produce(t, dev, "rst", n, 2*time.Millisecond)
	p.WaitSent(t, n/2, startTimeout)
	agent.WaitDistinct(t, 1, startTimeout)
	down := time.Now()
	ns.Restart(t)
	t.Logf("NATS restarted on %s in %v with %d events seen so far", ns.URL(), time.Since(down).Round(time.Millisecond), agent.Distinct())

	ids := p.Wait(t, startTimeout)
	waitDrainedStrict(t, dev, edge)
	t.Logf("connector drained %v after the restart", time.Since(down).Round(time.Millisecond))
	agent.WaitDistinct(t, len(ids), deliverTimeout)
	t.Logf("agent saw every event %v after the restart", time.Since(down).Round(time.Millisecond))
	checkEveryEventOnce(t, js, agent, ids)
	_, redeliveries, _ := agent.Stats()
	t.Logf("agent-side redeliveries (acks lost in the restart): %d", redeliveries)

	// Consumers resumed: the stages are ready and actions flow end to end.
	relaytest.WaitReady(t, startTimeout, edge, conv, eg)
	const m = 100
	a := relaytest.PublishActions(t, js, "after", m, time.Millisecond)
	actions := a.Wait(t, startTimeout)
	relaytest.WaitStreamEmpty(t, js, events.OutboundStream, deliverTimeout)
	natstest.WaitFor(t, deliverTimeout, func() error {
		if got := results.Len(); got < m {
			return fmt.Errorf("results for %d actions, want %d", got, m)
		}
		return nil
	})
	sends, _ := relaytest.Sends(dev)
	natstest.Tally(t, "sends after the restart", actions, sends)
	for _, id := range actions {
		if rs := results.Get(id); len(rs) == 0 || !rs[0].Success {
			t.Errorf("result of %s = %+v, want one success", id, rs)
		}
	}
	waitLive(t, edge, conv, eg)
}
