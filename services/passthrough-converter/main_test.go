package main

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/relaybus/relaybus/internal/stage/stagetest"
	"github.com/relaybus/relaybus/pkg/natstest"
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
	if !strings.Contains(logs, `"nats_url":"nats://conv:xxxxx@127.0.0.1:`) {
		t.Errorf("startup log lacks the redacted nats_url:\n%s", logs)
	}
}

// TestRunAnswersHealthzWithoutNATS: started while NATS is unreachable, the
// binary answers /healthz at once and /readyz with not ready.
func TestRunAnswersHealthzWithoutNATS(t *testing.T) {
	stagetest.StartsWithoutNATS(t, run, "CONVERTER_HTTP_ADDR", nil)
}
