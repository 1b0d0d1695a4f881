package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/relaybus/relaybus/internal/stage/stagetest"
	"github.com/relaybus/relaybus/pkg/natstest"
)

// syncBuffer is a bytes.Buffer safe for the logger and the test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunNeverLogsNATSCredentials runs the program against a server that
// requires a password given in NATS_URL: it becomes ready, and neither its
// logs nor its result carry the password.
func TestRunNeverLogsNATSCredentials(t *testing.T) {
	const password = "s3cret-pw"
	ns := natstest.RunServer(t, func(o *server.Options) { o.Username, o.Password = "conv", password })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	port := ns.Addr().(*net.TCPAddr).Port
	env := map[string]string{
		"NATS_URL":            fmt.Sprintf("nats://conv:%s@127.0.0.1:%d", password, port),
		"CONVERTER_HTTP_ADDR": addr,
		"LOG_LEVEL":           "debug",
	}
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(k string) string { return env[k] }, &out) }()
	natstest.WaitFor(t, 15*time.Second, func() error {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz = %d", resp.StatusCode)
		}
		return nil
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run = %v, want nil", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	logs := out.String()
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
