package fault_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/devconnector"
	"github.com/relaybus/relaybus/internal/natstest"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/tests/internal/relaytest"
)

// egressWorkers is EGRESS_WORKERS of the egress processes: the most actions
// one replica has in flight at once.
const egressWorkers = 8

// TestEgressKill9 kills one of two egress replicas (real processes) with
// SIGKILL mid-stream. What the design guarantees (services/egress/README.md,
// egress/handle.go):
//   - no action is lost: the dead replica's un-acked actions are redelivered
//     to the survivor after EGRESS_ACK_WAIT;
//   - an action the dead replica had settled (result stored in
//     RELAY_RESULTS) but not acked is answered from the stored result on
//     redelivery, not sent again;
//   - only an action whose edge request was in flight at the kill (written,
//     result not yet stored) may be sent a second time: at most one resend
//     per in-flight action, so at most EGRESS_WORKERS of them, each first
//     sent by the dead replica (it reached the connector before the kill,
//     give or take 2 s of latency) and again after the kill;
//   - every action ends with exactly one stored result.
//
// Any other second send fails the test.
func TestEgressKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("runs egress processes")
	}
	t.Parallel()
	const n = 2000
	ns := relaytest.StartNATS(t)
	dev := relaytest.StartConnector(t)
	edge := relaytest.RunEdge(t, relaytest.EdgeConfig(dev, bus.DefaultConfig()), ns.URL())
	relaytest.WaitReady(t, startTimeout, edge)
	extra := map[string]string{"EGRESS_ACK_WAIT": "5s", "EGRESS_WORKERS": fmt.Sprint(egressWorkers)}
	egA := startEgress(t, ns.URL(), "egress-a", extra)
	egB := startEgress(t, ns.URL(), "egress-b", extra)
	egA.WaitReady(t, startTimeout)
	egB.WaitReady(t, startTimeout)
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
	killAt := time.Now()
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

	// Sends, by action id: a second send is allowed only inside the window.
	counts, recs := relaytest.Sends(dev)
	var resent []string
	for id, rs := range recs {
		if len(rs) == 2 && rs[0].ReceivedAt.Before(killAt.Add(2*time.Second)) && rs[1].ReceivedAt.After(killAt) {
			resent = append(resent, id)
			counts[id] = 1
		}
	}
	relaytest.Tally(t, "sends recorded by the connector", ids, counts)
	t.Logf("resent within the at-least-once window (edge request in flight at the kill): %d %v", len(resent), resent)
	if len(resent) > egressWorkers {
		t.Errorf("%d actions resent after the kill, want at most %d (EGRESS_WORKERS of the killed replica)", len(resent), egressWorkers)
	}

	// Results: exactly one stored per action, a success; every result the
	// agent saw (a replay re-publishes the stored one) agrees with it.
	stored := relaytest.StoredResults(t, js)
	storedCount := map[string]int{}
	replayed := 0
	for _, id := range ids {
		rs := stored[id]
		storedCount[id] = len(rs)
		if len(rs) != 1 {
			continue
		}
		if !rs[0].Success || rs[0].MessageID == "" {
			t.Errorf("stored result of %s = %+v, want success with a message_id", id, rs[0])
		}
		seen := results.Get(id)
		replayed += len(seen) - 1
		for _, r := range seen {
			if r.MessageID != rs[0].MessageID || r.Success != rs[0].Success {
				t.Errorf("agent saw result %+v for %s, stored %+v", r, id, rs[0])
			}
		}
	}
	relaytest.Tally(t, "results stored in RELAY_RESULTS", ids, storedCount)
	t.Logf("results re-published from RELAY_RESULTS for redelivered, already settled actions: %d", replayed)
	if err := egB.Live(); err != nil {
		t.Errorf("surviving egress: %v", err)
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
	if testing.Short() {
		t.Skip("waits for a slow connector")
	}
	t.Parallel()
	const n = 10
	ns := relaytest.StartNATS(t)
	dev := relaytest.StartConnector(t, func(c *devconnector.Config) {
		c.Answer = func(events.Action) map[string]any {
			time.Sleep(300 * time.Millisecond) // a connector pacing the chat
			return nil                         // then the default answer
		}
	})
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
	relaytest.Tally(t, "sends", ids, sends)
	ci := relaytest.ConsumerInfo(t, js, events.OutboundStream, "egress")
	t.Logf("deliveries %d for %d actions; egress-a sent %v, egress-b sent %v and answered %v from stored results",
		ci.Delivered.Consumer, n, egA.Metric(t, "relay_egress_actions_total", "outcome", "sent"),
		egB.Metric(t, "relay_egress_actions_total", "outcome", "sent"), egB.Metric(t, "relay_egress_actions_total", "outcome", "replayed"))
}
