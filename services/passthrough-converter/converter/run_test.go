package converter_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/relaybus/relaybus/internal/natsconn"
	"github.com/relaybus/relaybus/internal/stage/stagetest"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/services/passthrough-converter/converter"
)

// TestRunStopsWhileNATSIsDown: cancelled before NATS was ever reached, Run
// returns nil at once instead of waiting for the streams.
func TestRunStopsWhileNATSIsDown(t *testing.T) {
	nc, err := natsconn.Connect(natsconn.Config{URL: "nats://" + natstest.FreeAddr(t)}, "converter-test", natstest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	cfg := converter.DefaultConfig()
	cfg.ShutdownTimeout = time.Second
	svc, err := converter.New(cfg, converter.Deps{Log: natstest.Logger(t), NC: nc})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	// Run is waiting for the streams.
	natstest.WaitFor(t, 2*time.Second, func() error {
		if len(stagetest.Goroutines("converter.(*Service).runStage")) == 0 {
			return errors.New("Run has not reached the streams yet")
		}
		return nil
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s")
	}
	if gs := stagetest.Goroutines("pkg/consume.(*Loop)", "converter.(*Service).runStage"); len(gs) > 0 {
		t.Errorf("stage still running after Run returned:\n%s", strings.Join(gs, "\n\n"))
	}
}
