package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/relaybus/relaybus/internal/stage/stagetest"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/services/ws-edge/wsedge"
)

func TestRunRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"NoURL", nil, "GATEWAY_RELAY_URL"},
		{"BlankSecret", map[string]string{"GATEWAY_RELAY_URL": "https://c.example", "GATEWAY_RELAY_SECRET": " "}, "GATEWAY_RELAY_SECRET"},
		{"BadDuration", map[string]string{"GATEWAY_RELAY_URL": "https://c.example", "WSEDGE_PING_INTERVAL": "x"}, "WSEDGE_PING_INTERVAL"},
		{"BadLogLevel", map[string]string{"GATEWAY_RELAY_URL": "https://c.example", "LOG_LEVEL": "loud"}, "LOG_LEVEL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), func(k string) string { return tt.env[k] }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run = %v, want an error naming %s", err, tt.want)
			}
			if tt.name != "BadLogLevel" && !errors.Is(err, wsedge.ErrInvalidConfig) {
				t.Errorf("run = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

// TestRunAnswersHealthzWithoutNATS: started while NATS is unreachable, the
// binary answers /healthz at once and /readyz with not ready (it never
// dials the connector before the streams exist).
func TestRunAnswersHealthzWithoutNATS(t *testing.T) {
	stagetest.StartsWithoutNATS(t, run, "WSEDGE_HTTP_ADDR", map[string]string{"GATEWAY_RELAY_URL": "https://connector.invalid"})
}

// TestRunOpsPortTaken: the ops port is bound before anything else starts,
// so a taken port makes run return the bind error without connecting.
func TestRunOpsPortTaken(t *testing.T) {
	stagetest.PortTaken(t, run, "WSEDGE_HTTP_ADDR", natstest.RunServer(t), map[string]string{"GATEWAY_RELAY_URL": "https://connector.invalid"})
}
