package wsedge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/relaybus/relaybus/internal/devconnector"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/pkg/wire"
	"github.com/relaybus/relaybus/services/ws-edge/wsedge"
)

// TestAgainstDevConnector runs ws-edge against the repository's faithful
// connector: authenticated dial, buffered delivery acked once stored, a
// dropped socket replayed without duplicates, and an outbound round trip.
func TestAgainstDevConnector(t *testing.T) {
	dev, err := devconnector.New(devconnector.Config{
		Gateways: map[string]string{"gw-dev": "dev-secret"},
		Log:      natstest.Logger(t).With("component", "devconnector"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dev.Close() })

	ns := natstest.RunServer(t)
	nc := natstest.Connect(t, ns)
	js := natstest.JetStream(t, nc)
	cfg := testConfig(dev.URL())
	cfg.RelayID, cfg.RelaySecret, cfg.Platforms = "gw-dev", "dev-secret", []string{"discord"}
	svc, err := wsedge.New(cfg, wsedge.Deps{Log: natstest.Logger(t), NC: natstest.Connect(t, ns, nats.Name("ws-edge"))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- svc.Run(ctx) }()
	natstest.WaitFor(t, 5*time.Second, func() error { return svc.Ready(context.Background()) })

	const n = 200
	emit := func(from int) {
		for i := from; i < from+n; i++ {
			if dev.Emit(wire.FrameInbound, map[string]any{"event": map[string]any{
				"text": fmt.Sprint("msg ", i), "source": map[string]any{"platform": "discord", "chat_id": "c1"},
			}}) == "" {
				t.Fatal("Emit failed")
			}
		}
	}
	emit(0)
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := dev.WaitAcked(wctx, n); err != nil {
		t.Fatalf("acks: %v (state %+v)", err, dev.State())
	}
	// A connector-side crash mid-stream: everything un-acked is replayed on
	// the next connection and must be stored exactly once.
	emit(n)
	dev.DropConnection()
	if err := dev.WaitDrained(wctx); err != nil {
		t.Fatalf("drain: %v (state %+v)", err, dev.State())
	}
	natstest.WaitFor(t, 5*time.Second, func() error {
		st, err := js.Stream(context.Background(), events.RawStream)
		if err != nil {
			return err
		}
		info, err := st.Info(context.Background())
		if err != nil {
			return err
		}
		if info.State.Msgs != 2*n {
			return fmt.Errorf("RELAY_RAW holds %d messages, want %d", info.State.Msgs, 2*n)
		}
		return nil
	})

	// Outbound through the edge endpoint, answered by the dev connector.
	natstest.WaitFor(t, 5*time.Second, func() error { return svc.Ready(context.Background()) })
	reply, err := nc.Request(events.EdgeOutboundSubject, []byte(`{"op":"send","chat_id":"dm-1","content":"hi","reply_to":null,"metadata":{}}`), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var res events.SendResult
	if err := json.Unmarshal(reply.Data, &res); err != nil || !res.Success || res.MessageID == "" {
		t.Errorf("send result = %s (%v), want success with a message_id", reply.Data, err)
	}

	cancel()
	select {
	case err := <-runErr:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
}
