package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/stage/stagetest"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/services/passthrough-converter/converter"
)

// TestRunNeverLogsNATSCredentials runs the program against a server that
// requires a password given in NATS_URL: it becomes ready, and neither its
// logs nor its result carry the password.
func TestRunNeverLogsNATSCredentials(t *testing.T) {
	const password = "s3cret-pw"
	ns := natstest.RunServer(t, func(o *server.Options) { o.Username, o.Password = "conv", password })
	addr := natstest.FreeAddr(t)
	port := ns.Addr().(*net.TCPAddr).Port
	p := stagetest.Start(t, run, map[string]string{
		"NATS_URL":            fmt.Sprintf("nats://conv:%s@127.0.0.1:%d", password, port),
		"CONVERTER_HTTP_ADDR": addr,
		"LOG_LEVEL":           "debug",
	})
	natstest.WantStatus(t, 15*time.Second, addr, "/readyz", http.StatusOK)
	if err := p.Stop(t); err != nil {
		t.Fatalf("run = %v, want nil", err)
	}
	logs := p.Logs.String()
	if strings.Contains(logs, password) {
		t.Errorf("the NATS password is in the logs:\n%s", logs)
	}
	if !strings.Contains(logs, `"NATS_URL":"nats://conv:xxxxx@127.0.0.1:`) {
		t.Errorf("startup log lacks the redacted NATS_URL:\n%s", logs)
	}
}

// TestRunAnswersHealthzWithoutNATS: started while NATS is unreachable, the
// binary answers /healthz at once and /readyz with not ready.
func TestRunAnswersHealthzWithoutNATS(t *testing.T) {
	stagetest.StartsWithoutNATS(t, run, "CONVERTER_HTTP_ADDR", nil)
}

// TestRunReadyOnceNATSComesUp: started while NATS is unreachable, the
// binary says not ready; once NATS comes up it creates the streams and
// becomes ready; it stops cleanly, its ops port closed.
func TestRunReadyOnceNATSComesUp(t *testing.T) {
	natsAddr, addr := natstest.FreeAddr(t), natstest.FreeAddr(t)
	_, portStr, _ := net.SplitHostPort(natsAddr)
	port, _ := strconv.Atoi(portStr)
	p := stagetest.Start(t, run, map[string]string{
		"NATS_URL": "nats://" + natsAddr, "CONVERTER_HTTP_ADDR": addr, "CONVERTER_SHUTDOWN_TIMEOUT": "2s",
	})
	natstest.WantStatus(t, 2*time.Second, addr, "/healthz", http.StatusOK)
	if code, err := natstest.Probe(addr, "/readyz"); err != nil || code != http.StatusServiceUnavailable {
		t.Fatalf("GET /readyz with NATS down = %d, %v; want 503", code, err)
	}

	ns := natstest.RunServer(t, natstest.WithPort(port))
	natstest.WantStatus(t, 20*time.Second, addr, "/readyz", http.StatusOK)
	js := natstest.JetStream(t, natstest.Connect(t, ns))
	if _, err := js.Stream(t.Context(), events.RawStream); err != nil {
		t.Errorf("stream %s after NATS came up: %v", events.RawStream, err)
	}

	if err := p.Stop(t); err != nil {
		t.Errorf("run = %v, want nil", err)
	}
	if _, err := natstest.Probe(addr, "/healthz"); err == nil {
		t.Error("the ops port still answers after run returned")
	}
}

// TestRunOpsPortTakenStartsNothing: the ops port is bound before anything
// else starts, so a taken port makes run return the bind error with no
// connection made, no consume loop left behind, no consumer created and
// no frame taken.
func TestRunOpsPortTakenStartsNothing(t *testing.T) {
	ns := natstest.RunServer(t)
	js := natstest.JetStream(t, natstest.Connect(t, ns))
	if err := bus.Ensure(t.Context(), js, bus.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	frame := `{"type":"inbound","event":{"text":"hi","source":{"platform":"discord","chat_id":"c1","chat_type":"dm","user_id":"u1"}}}`
	if _, err := js.Publish(t.Context(), events.RawSubject("inbound"), []byte(frame)); err != nil {
		t.Fatal(err)
	}

	stagetest.PortTaken(t, run, "CONVERTER_HTTP_ADDR", ns, nil)

	// Give a stray loop time to show itself.
	for deadline := time.Now().Add(500 * time.Millisecond); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if gs := stagetest.Goroutines("pkg/consume.(*Loop)", "converter.(*Service)"); len(gs) > 0 {
			t.Fatalf("the stage is running after run returned:\n%s", strings.Join(gs, "\n\n"))
		}
	}
	durable := converter.DefaultConfig().Durable
	if _, err := js.Consumer(t.Context(), events.RawStream, durable); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Errorf("consumer %s: err = %v, want not found", durable, err)
	}
	st, err := js.Stream(t.Context(), events.RawStream)
	if err != nil {
		t.Fatal(err)
	}
	if n := st.CachedInfo().State.Msgs; n != 1 {
		t.Errorf("%s holds %d frames, want the 1 published (none taken)", events.RawStream, n)
	}
}
