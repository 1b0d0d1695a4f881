package fault_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/tests/internal/relaytest"
)

// TestEdgeKill9 kills ws-edge (a real process) with SIGKILL while buffered
// frames are in flight, then starts a new one. The connector replays every
// frame that was not acked to the new socket; frames the dead edge had
// already stored carry the same Nats-Msg-Id (the bufferId), so RELAY_RAW
// drops the copies and the agent sees every event exactly once.
func TestEdgeKill9(t *testing.T) {
	faultTest(t, "runs ws-edge processes")
	const n = 2000
	ns := relaytest.StartNATS(t)
	dev := relaytest.StartConnector(t)
	edge1 := startEdge(t, dev, ns.URL(), "ws-edge-1")
	edge1.WaitReady(t, startTimeout)
	conv := relaytest.RunConverter(t, relaytest.ConverterConfig(bus.DefaultConfig()), ns.URL())
	relaytest.WaitReady(t, startTimeout, conv)
	js, agent := startAgent(t, ns.URL())

	p := relaytest.Produce(t, dev, "edge", n, 2*time.Millisecond)
	p.WaitSent(t, n/2, startTimeout)
	// A burst, so that frames are read and published but not yet acked.
	burst := relaytest.Produce(t, dev, "burst", n/4, 50*time.Microsecond)
	burst.WaitSent(t, n/8, startTimeout)
	st := dev.State()
	edge1.Kill9(t)
	t.Logf("killed ws-edge-1 with %d un-acked frames in the connector's buffer (%d acked so far)", st.Buffered, st.Acked)
	if st.Buffered == 0 {
		t.Errorf("no frame in flight at the kill: the test did not exercise a replay")
	}

	edge2 := startEdge(t, dev, ns.URL(), "ws-edge-2")
	edge2.WaitReady(t, startTimeout)
	ids := append(p.Wait(t, startTimeout), burst.Wait(t, startTimeout)...)
	waitDrained(t, dev)
	agent.WaitDistinct(t, len(ids), deliverTimeout)
	checkEveryEventOnce(t, js, agent, ids)
	st = dev.State()
	dups := edge2.Metric(t, "relay_wsedge_duplicates_total")
	t.Logf("connector: %d connections, %d frames replayed; ws-edge-2: %v replays absorbed as duplicates by RELAY_RAW", st.Connections, st.Replayed, dups)
	if st.Replayed == 0 {
		t.Errorf("connector replayed nothing after the kill")
	}
	waitLive(t, conv)
}

// waitLive waits until every in-process stage is live and ready.
func waitLive(t *testing.T, stages ...relaytest.Prober) {
	t.Helper()
	natstest.WaitFor(t, startTimeout, func() error {
		for _, s := range stages {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			err := s.Live(ctx)
			if err == nil {
				err = s.Ready(ctx)
			}
			cancel()
			if err != nil {
				return fmt.Errorf("stage not live and ready: %w", err)
			}
		}
		return nil
	})
}
