package fault_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/relaybus/relaybus/internal/natsauth"
	"github.com/relaybus/relaybus/internal/natsconn"
	"github.com/relaybus/relaybus/pkg/agent"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/tests/internal/relaytest"
)

// TestStagesUnderNATSConf runs the three stage binaries against a server
// authorized by deploy/nats/nats.conf (compose's), each stage with the
// stage identity's seed (NATS_NKEY), and an agent with the agent's: every
// event is answered and every reply delivered.
func TestStagesUnderNATSConf(t *testing.T) {
	serialFaultTest(t, "runs the stage binaries")
	keys, err := natsauth.Load(t.TempDir(), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range natsauth.Identities {
		t.Setenv(natsauth.EnvName(id)+"_PUBLIC", keys.Of(id).Public)
	}
	conf, err := server.ProcessConfigFile("../../deploy/nats/nats.conf")
	if err != nil {
		t.Fatal(err)
	}
	n := natstest.StartNATS(t, func(o *server.Options) { o.Nkeys, o.MaxPayload = conf.Nkeys, conf.MaxPayload })
	stageEnv := map[string]string{"NATS_NKEY": keys.Stage.SeedFile}

	dev := relaytest.StartConnector(t)
	conv := startConverter(t, n.URL(), "converter", stageEnv)
	eg := startEgress(t, n.URL(), "egress", stageEnv)
	addr := natstest.FreeAddr(t)
	edgeEnv := relaytest.EdgeEnv(dev, n.URL(), addr, "edge")
	edge := startStage(t, "edge", bins.WSEdge, addr, stageEnv, edgeEnv)
	for _, p := range []*relaytest.Proc{conv, eg, edge} {
		p.WaitReady(t, startTimeout)
	}

	nc := natstest.ConnectURL(t, n.URL(), natsconn.NKeyOption(keys.Agent.SeedFile), nats.Name("agent"))
	cl, err := agent.New(nc, agent.Options{Name: "auth-agent", DeliverAll: true})
	if err != nil {
		t.Fatal(err)
	}
	var answered atomic.Int64
	natstest.Go(t, "agent", func(ctx context.Context) error {
		return cl.Run(ctx, func(ctx context.Context, ev *agent.Event) error {
			res, err := ev.Reply(ctx, "ok")
			if err != nil {
				return err
			}
			if !res.Success {
				return fmt.Errorf("reply refused: %s", res.Error)
			}
			answered.Add(1)
			return nil
		})
	})
	const events = 20 // two of them interactions (answered with follow-ups)
	relaytest.Produce(t, dev, "auth", events, 10*time.Millisecond).Wait(t, deliverTimeout)
	natstest.WaitFor(t, deliverTimeout, func() error {
		if got := answered.Load(); got < events {
			return fmt.Errorf("%d of %d events answered", got, events)
		}
		return nil
	})
}
