package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/relaybus/relaybus/internal/natsconn"
	"github.com/relaybus/relaybus/internal/stage"
	"github.com/relaybus/relaybus/internal/stage/stagetest"
	"github.com/relaybus/relaybus/pkg/natstest"
)

func TestRunRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name, key, value, wantIn string
	}{
		{"Workers", "EGRESS_WORKERS", "-1", "EGRESS_WORKERS"},
		{"LogLevel", "LOG_LEVEL", "loud", "LOG_LEVEL"},
		{"LogFormat", "LOG_FORMAT", "xml", "LOG_FORMAT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{tt.key: tt.value}
			err := run(t.Context(), func(k string) string { return env[k] }, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("run = %v, want an error naming %s", err, tt.wantIn)
			}
		})
	}
}

// TestRunServesAndStops runs the real program against an embedded server:
// it logs startup, serves /healthz and /readyz, and returns nil when its
// context ends.
func TestRunServesAndStops(t *testing.T) {
	ns := natstest.RunServer(t)
	addr := natstest.FreeAddr(t)
	p := stagetest.Start(t, run, map[string]string{"NATS_URL": ns.ClientURL(), "EGRESS_HTTP_ADDR": addr, "LOG_FORMAT": "json"})
	natstest.WantStatus(t, 10*time.Second, addr, "/readyz", http.StatusOK)
	if err := p.Stop(t); err != nil {
		t.Fatalf("run = %v, want nil", err)
	}
	var first struct {
		Msg, Service, Version string
	}
	line, _, _ := strings.Cut(p.Logs.String(), "\n")
	if err := json.Unmarshal([]byte(line), &first); err != nil || first.Msg != "startup" || first.Service != "egress" || first.Version != stage.Version {
		t.Errorf("first log line = %s, want a JSON startup line with service and version", line)
	}
}

// TestRedactURL: the startup line carries NATS_URL with its credentials
// redacted (natsconn.RedactURL, one redaction for every binary).
func TestRedactURL(t *testing.T) {
	tests := map[string]string{
		"nats://127.0.0.1:4222":                 "nats://127.0.0.1:4222",
		"nats://user:secret@host:4222":          "nats://user:xxxxx@host:4222",
		"nats://a:b@h1:4222,nats://c:d@h2:4222": "nats://a:xxxxx@h1:4222,nats://c:xxxxx@h2:4222",
		"tls://token@host":                      "tls://xxxxx@host",
	}
	for in, want := range tests {
		if got := natsconn.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
	// The binary logs it so: canceled at once, it still writes its startup line.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	env := map[string]string{"NATS_URL": "nats://user:secret@" + natstest.FreeAddr(t), "EGRESS_HTTP_ADDR": natstest.FreeAddr(t)}
	var out stagetest.Buffer
	if err := run(ctx, func(k string) string { return env[k] }, &out); err != nil {
		t.Fatalf("run = %v", err)
	}
	if logs := out.String(); strings.Contains(logs, "secret") || !strings.Contains(logs, `"NATS_URL":"nats://user:xxxxx@127.0.0.1:`) {
		t.Errorf("startup logs carry the NATS URL unredacted, or not at all:\n%s", logs)
	}
}

// TestRunAnswersHealthzWithoutNATS: started while NATS is unreachable, the
// binary answers /healthz at once and /readyz with not ready (a container's
// healthcheck must not kill it), and stops cleanly when cancelled.
func TestRunAnswersHealthzWithoutNATS(t *testing.T) {
	stagetest.StartsWithoutNATS(t, run, "EGRESS_HTTP_ADDR", nil)
}

// TestRunOpsPortTaken: the ops port is bound before anything else starts,
// so a taken port makes run return the bind error without connecting.
func TestRunOpsPortTaken(t *testing.T) {
	stagetest.PortTaken(t, run, "EGRESS_HTTP_ADDR", natstest.RunServer(t), nil)
}
