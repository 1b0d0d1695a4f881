package stack_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/relaybus/relaybus/cmd/relay/internal/stack"
	"github.com/relaybus/relaybus/internal/devconnector"
	"github.com/relaybus/relaybus/internal/natsembed"
	"github.com/relaybus/relaybus/internal/ops"
	"github.com/relaybus/relaybus/pkg/natstest"
)

// TestStack runs the whole pipeline in-process against a dev connector: one
// ops port answers for every stage, an extra connection reaches the
// embedded server, and Stop shuts it all down cleanly.
func TestStack(t *testing.T) {
	dev, err := devconnector.New(devconnector.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	// The stages' own ops ports are ignored: the stack serves one, addr.
	addr := natstest.FreeAddr(t)
	stages, err := stack.StagesFromEnv(func(k string) string {
		return map[string]string{"GATEWAY_RELAY_URL": dev.URL(), "GATEWAY_RELAY_PLATFORMS": "discord",
			"WSEDGE_HTTP_ADDR": addr, "CONVERTER_HTTP_ADDR": addr, "EGRESS_HTTP_ADDR": addr}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := stack.Start(context.Background(), stack.Config{
		Stages: stages, HTTPAddr: addr, Log: natstest.Logger(t),
		NATS: natsembed.Config{DontListen: true, StoreDir: t.TempDir()},
	})
	if err != nil {
		t.Fatal(err)
	}
	natstest.WaitFor(t, 30*time.Second, func() error { return s.Ready(t.Context()) })

	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz = %d %s", resp.StatusCode, body)
	}
	m, err := ops.Scrape("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"relay_wsedge_socket_state", "relay_converter_lag_seconds", "relay_egress_scope_cache_hit_ratio", "process_resident_memory_bytes"} {
		if _, ok := m[name]; !ok {
			var names []string
			for n := range m {
				names = append(names, n)
			}
			t.Errorf("/metrics lacks %s; has %s", name, strings.Join(names, " "))
		}
	}
	nc, err := s.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Errorf("extra connection: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("Stop = %v, want nil", err)
	}
	if !nc.IsClosed() {
		t.Error("the extra connection is still open after Stop")
	}
	if s.NATS.Running() {
		t.Error("the embedded server still runs after Stop")
	}
}

// TestStartPortTaken: a taken ops port fails Start before anything runs.
func TestStartPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = stack.Start(context.Background(), stack.Config{HTTPAddr: ln.Addr().String(), NATS: natsembed.Config{DontListen: true, StoreDir: t.TempDir()}})
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Errorf("Start = %v, want the bind error", err)
	}
}
