package fault_test

import (
	"testing"
	"time"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/tests/internal/relaytest"
)

// TestConnectorDropsSocket has the connector drop the gateway socket
// abruptly (no close frame) every 100 ms while frames flow. Each time,
// ws-edge redials and the connector replays what was not acked; the agent
// must still see every event exactly once.
func TestConnectorDropsSocket(t *testing.T) {
	faultTest(t, "streams for several seconds")
	const n = 3000
	ns := relaytest.StartNATS(t)
	dev := relaytest.StartConnector(t)
	edge, conv := runEdgeAndConverter(t, dev, bus.DefaultConfig(), ns.URL())
	js, agent := startAgent(t, ns.URL())

	p := relaytest.Produce(t, dev, "drop", n, time.Millisecond)
	drops := 0
	tick := time.NewTicker(100 * time.Millisecond)
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	for running := true; running; {
		select {
		case <-deadline.C:
			t.Fatalf("producer not done within %v (%d sent)", startTimeout, p.Sent())
		case <-p.Done():
			running = false
		case <-tick.C:
			if dev.DropConnection() {
				drops++
			}
		}
	}
	tick.Stop()
	ids := p.Wait(t, startTimeout)

	waitDrained(t, dev)
	agent.WaitDistinct(t, len(ids), deliverTimeout)
	checkEveryEventOnce(t, js, agent, ids)
	st := dev.State()
	t.Logf("socket dropped %d times; connector: %d connections, %d frames replayed, %d acks for unknown frames", drops, st.Connections, st.Replayed, st.UnknownAcks)
	if drops < 10 {
		t.Errorf("dropped the socket %d times, want at least 10", drops)
	}
	waitLive(t, edge, conv)
}
