package wsedge_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/micro"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/services/ws-edge/wsedge"
)

// TestOpsEndpoints: hosted by the lifecycle, as the binary hosts it,
// ws-edge's probes and metrics are what the ops port serves.
func TestOpsEndpoints(t *testing.T) {
	addr := natstest.FreeAddr(t)
	h := startHosted(t, addr, nil)
	base := "http://" + addr
	p := h.conn.accept(5 * time.Second)
	p.expect("hello")
	natstest.WaitFor(t, 5*time.Second, func() error {
		code, body, err := natstest.Get(base + "/readyz")
		if err != nil {
			return err
		}
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "not up and handshaken") {
			return fmt.Errorf("/readyz before the handshake = %d %q, want 503 naming the socket", code, body)
		}
		return nil
	})
	p.send(descriptorFrame("relay"), inboundFrame("", "x"))
	natstest.WaitFor(t, 5*time.Second, func() error {
		if code, body, err := natstest.Get(base + "/readyz"); err != nil || code != http.StatusOK {
			return fmt.Errorf("/readyz = %d %q %v, want 200", code, body, err)
		}
		return nil
	})
	if code, _, err := natstest.Get(base + "/healthz"); err != nil || code != http.StatusOK {
		t.Errorf("/healthz = %d %v, want 200", code, err)
	}
	h.streamMsgs(events.RawStream, rawInbound, 1)
	_, metrics, err := natstest.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`relay_wsedge_frames_total{type="inbound"} 1`,
		`relay_wsedge_frames_total{type="descriptor"} 1`,
		`relay_wsedge_socket_state 2`,
		`relay_wsedge_revoked 0`,
		`relay_wsedge_publish_seconds_count 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestMicroRegistration(t *testing.T) {
	h := start(t, func(c *wsedge.Config) { c.Version = "1.2.3" })
	h.handshaken()
	subj, err := micro.ControlSubject(micro.InfoVerb, "relay-ws-edge", "")
	if err != nil {
		t.Fatal(err)
	}
	m, err := h.nc.Request(subj, nil, 5*time.Second)
	if err != nil {
		t.Fatalf("micro info: %v", err)
	}
	var info micro.Info
	if err := json.Unmarshal(m.Data, &info); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{"name": info.Name, "version": info.Version}
	for _, e := range info.Endpoints {
		got[e.Name] = e.Subject + " " + e.QueueGroup
	}
	want := map[string]string{
		"name": "relay-ws-edge", "version": "1.2.3",
		"outbound":  events.EdgeOutboundSubject + " " + events.EdgeQueue,
		"chat_info": events.ChatInfoSubject + " " + events.EdgeQueue,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("micro info (-want +got):\n%s", diff)
	}
}
