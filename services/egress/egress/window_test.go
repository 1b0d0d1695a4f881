package egress_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
)

// TestActionRepeatedAfterServerWindowNotSentTwice: RELAY_OUTBOUND's server
// de-duplication window is short (RELAY_OUTBOUND_DUPLICATE_WINDOW, 1 s
// here) since the server holds every id of it in memory; an agent that
// publishes the same action id again after it is stored as a new message.
// Egress still does not send it twice: the action's before-write note in
// RELAY_RESULTS (kept for RELAY_DUPLICATE_WINDOW) refuses the second
// "begun", and the retry is answered from the stored result.
func TestActionRepeatedAfterServerWindowNotSentTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out a 1 s server window")
	}
	ns := natstest.RunServer(t)
	cfg := testConfig()
	cfg.Bus.OutboundDuplicateWindow = time.Second
	e := attachEnvBus(t, ns, cfg.Bus)
	resp := newResponder(t, ns, ok)
	e.start(cfg)

	a := events.Action{Op: events.OpSend, ChatID: "c", Content: "hi"}
	sub := e.results("again")
	e.publish(a.Op, "again", events.ContentTypeMsgpack, a)
	first := nextResult(t, sub)

	data, err := events.Marshal(a, events.ContentTypeMsgpack)
	if err != nil {
		t.Fatal(err)
	}
	// Publish the same id until the server no longer takes it for a
	// duplicate: that publication is stored, and egress gets it.
	natstest.WaitFor(t, 10*time.Second, func() error {
		m := nats.NewMsg(events.OutboundSubject(a.Op))
		m.Data = data
		m.Header.Set(events.ContentTypeHeader, events.ContentTypeMsgpack)
		m.Header.Set(events.MsgIDHeader, "again")
		ack, err := e.js.PublishMsg(t.Context(), m)
		if err != nil {
			return err
		}
		if ack.Duplicate {
			return errors.New("still within RELAY_OUTBOUND's window")
		}
		return nil
	})
	second := nextResult(t, sub)
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("the repeat's result differs (-first +second):\n%s", diff)
	}
	e.wantEdgeRequests(resp, 1, "")
	if got := e.metric("relay_egress_actions_total", "op=send", "outcome=replayed"); got != 1 {
		t.Errorf("replayed count = %v, want 1", got)
	}
}
