package fault_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/devconnector"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/tests/internal/relaytest"
)

// egressWorkers is EGRESS_WORKERS of the egress processes: the most actions
// one replica has in flight at once.
const egressWorkers = 8

// TestEgressKill9 kills one of three egress replicas (real processes) with
// SIGKILL while sends for relaytest.ActionChats chats are in flight. What
// the design guarantees (services/egress/README.md, egress/handle.go):
//   - no action is lost: the dead replica's un-acked actions are redelivered
//     to the survivors after EGRESS_ACK_WAIT;
//   - no action is written to the connector twice: before a frame's write
//     begins, egress stores a "begun" note; a redelivered action with a
//     stored result is answered from it, one with a "begun" note and no
//     result is answered ambiguous (contract §1) and not written again;
//   - every action ends with exactly one stored result: a success, or an
//     ambiguous "interrupted" one for the actions the dead replica had begun
//     writing.
func TestEgressKill9(t *testing.T) {
	faultTest(t, "runs egress processes")
	const n = 2000
	ns := relaytest.StartNATS(t)
	// A connector that takes a while per send (its reader answers one at a
	// time), so that the victim dies with requests in flight on every worker.
	dev := startSlowConnector(t, time.Millisecond)
	edge := relaytest.RunEdge(t, relaytest.EdgeConfig(dev, bus.DefaultConfig()), ns.URL())
	relaytest.WaitReady(t, startTimeout, edge)
	extra := map[string]string{"EGRESS_ACK_WAIT": "5s", "EGRESS_WORKERS": fmt.Sprint(egressWorkers)}
	egA := startEgress(t, ns.URL(), "egress-a", extra)
	egB := startEgress(t, ns.URL(), "egress-b", extra)
	egC := startEgress(t, ns.URL(), "egress-c", extra)
	for _, p := range []*relaytest.Proc{egA, egB, egC} {
		p.WaitReady(t, startTimeout)
	}
	nc := relaytest.Connect(t, ns.URL(), "agent")
	js := relaytest.JetStream(t, nc)
	results := relaytest.SubscribeResults(t, nc)

	p := relaytest.PublishActions(t, js, "act", n, 2*time.Millisecond)
	p.WaitSent(t, n/2, startTimeout)
	sentA := waitMetric(t, egA, 1, "relay_egress_actions_total", "outcome", "sent")
	// A burst on top of the steady flow, so that the victim dies with a
	// backlog fetched and requests in flight.
	burst := relaytest.PublishActions(t, js, "burst", n/4, 50*time.Microsecond)
	burst.WaitSent(t, n/8, startTimeout)
	pending := relaytest.ConsumerInfo(t, js, events.OutboundStream, "egress").NumAckPending
	egA.Kill9(t)
	t.Logf("killed egress-a after it sent %v actions; %d actions awaiting ack at the kill", sentA, pending)

	ids := append(p.Wait(t, startTimeout), burst.Wait(t, startTimeout)...)
	relaytest.WaitStreamEmpty(t, js, events.OutboundStream, deliverTimeout)
	natstest.WaitFor(t, deliverTimeout, func() error {
		if got := results.Len(); got < len(ids) {
			return fmt.Errorf("results for %d actions, want %d", got, len(ids))
		}
		return nil
	})

	ambiguous, written := tallySends(t, js, dev, ids, results)
	t.Logf("answered ambiguous (begun by the killed replica, no stored result): %d, of which the connector received %d; per-replica sent: a %v, b %v, c %v",
		len(ambiguous), written, sentA, egB.Metric(t, "relay_egress_actions_total", "outcome", "sent"), egC.Metric(t, "relay_egress_actions_total", "outcome", "sent"))
	if len(ambiguous) > egressWorkers {
		t.Errorf("%d actions answered ambiguous, want at most EGRESS_WORKERS=%d (those in flight on the killed replica)", len(ambiguous), egressWorkers)
	}
	for _, p := range []*relaytest.Proc{egB, egC} {
		if err := p.Live(); err != nil {
			t.Errorf("surviving egress: %v", err)
		}
	}
}

// TestEgressSlowConnector runs two egress replicas against a connector that
// takes 300 ms to answer each action (a platform rate limit) with
// EGRESS_ACK_WAIT=1s. No process dies and no socket drops, so every action
// must be sent exactly once. One replica takes a backlog for one chat
// first; the second starts once the backlog is fetched. This used to send
// an action twice: an action waiting in the first replica's queue got no
// InProgress, its ack wait ran out, the second replica got it with
// NumDelivered = 2, found no stored result (the first had not reached it)
// and sent it, and the first then sent its own copy (fixed in
// internal/consume: dispatched messages are kept alive until settled and a
// redelivery of one still in hand is dropped).
func TestEgressSlowConnector(t *testing.T) {
	faultTest(t, "waits for a slow connector")
	const n = 10
	ns := relaytest.StartNATS(t)
	dev := startSlowConnector(t, 300*time.Millisecond) // a connector pacing the chat
	b := bus.DefaultConfig()
	edge := relaytest.RunEdge(t, relaytest.EdgeConfig(dev, b), ns.URL())
	cfg := relaytest.EgressConfig(b)
	cfg.AckWait = time.Second
	cfg.Workers = 4
	egA := relaytest.RunEgress(t, cfg, ns.URL())
	relaytest.WaitReady(t, startTimeout, edge, egA)
	js := relaytest.JetStream(t, relaytest.Connect(t, ns.URL(), "agent"))
	var ids []string
	for i := range n {
		id := fmt.Sprintf("slow-%02d", i)
		m := relaytest.SendAction(t, id, 0) // one chat: one worker, in order
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := js.PublishMsg(ctx, m)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	natstest.WaitFor(t, startTimeout, func() error {
		if ci := relaytest.ConsumerInfo(t, js, events.OutboundStream, "egress"); ci.NumPending != 0 {
			return fmt.Errorf("%d actions not yet fetched by egress-a", ci.NumPending)
		}
		return nil
	})
	egB := relaytest.RunEgress(t, cfg, ns.URL())
	relaytest.WaitReady(t, startTimeout, egB)

	relaytest.WaitStreamEmpty(t, js, events.OutboundStream, deliverTimeout)
	sends, _ := relaytest.Sends(dev)
	natstest.Tally(t, "sends", ids, sends)
	ci := relaytest.ConsumerInfo(t, js, events.OutboundStream, "egress")
	t.Logf("deliveries %d for %d actions; egress-a sent %v, egress-b sent %v and answered %v from stored results",
		ci.Delivered.Consumer, n, egA.Metric(t, "relay_egress_actions_total", "outcome", "sent"),
		egB.Metric(t, "relay_egress_actions_total", "outcome", "sent"), egB.Metric(t, "relay_egress_actions_total", "outcome", "replayed"))
}

// TestConnectorTakesFrameThenDrops: the connector reads an outbound frame,
// never answers it, and drops the socket. The frame may have been acted on,
// so the action is answered ambiguous ("connection lost") and never written
// again, on this connection or the next; the next action flows normally.
func TestConnectorTakesFrameThenDrops(t *testing.T) {
	faultTest(t, "waits for a reconnect")
	ns := relaytest.StartNATS(t)
	dev := relaytest.StartConnector(t, func(c *devconnector.Config) {
		c.Silent = func(a events.Action) bool { return a.Content == "swallowed" }
	})
	b := bus.DefaultConfig()
	edgeCfg := relaytest.EdgeConfig(dev, b)
	edgeCfg.OutboundTimeout = 30 * time.Second // the drop, not the timeout, must answer
	edge := relaytest.RunEdge(t, edgeCfg, ns.URL())
	eg := relaytest.RunEgress(t, relaytest.EgressConfig(b), ns.URL())
	relaytest.WaitReady(t, startTimeout, edge, eg)
	nc := relaytest.Connect(t, ns.URL(), "agent")
	js := relaytest.JetStream(t, nc)
	results := relaytest.SubscribeResults(t, nc)

	publish := func(id string) {
		m := relaytest.SendAction(t, id, 0)
		if _, err := js.PublishMsg(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	publish("swallowed")
	ctx, cancel := context.WithTimeout(t.Context(), startTimeout)
	defer cancel()
	if _, err := dev.WaitOutbound(ctx, 1); err != nil {
		t.Fatalf("the connector never got the frame: %v", err)
	}
	if !dev.DropConnection() {
		t.Fatal("no socket to drop")
	}
	natstest.WaitFor(t, deliverTimeout, func() error {
		if len(results.Get("swallowed")) == 0 {
			return errors.New("no result for the swallowed action yet")
		}
		return nil
	})
	if diff := cmp.Diff(events.ResultConnLost, results.Get("swallowed")[0]); diff != "" {
		t.Errorf("result of the swallowed action (-want +got):\n%s", diff)
	}

	publish("after")
	natstest.WaitFor(t, deliverTimeout, func() error {
		if rs := results.Get("after"); len(rs) == 0 || !rs[0].Success {
			return fmt.Errorf("result of the next action = %+v, want a success", rs)
		}
		return nil
	})
	relaytest.WaitStreamEmpty(t, js, events.OutboundStream, deliverTimeout)
	counts, _ := relaytest.Sends(dev)
	natstest.Tally(t, "frames the connector received", []string{"swallowed", "after"}, counts)
	if got := eg.Metric(t, "relay_egress_ambiguous_total", "cause", "connection_lost"); got != 1 {
		t.Errorf("ambiguous{connection_lost} = %v, want 1", got)
	}
	if got := len(results.Get("swallowed")); got != 1 {
		t.Errorf("results for the swallowed action = %d, want 1", got)
	}
}
