package agent_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/relaybus/relaybus/pkg/agent"
	"github.com/relaybus/relaybus/pkg/natstest"
)

// TestRunMovesOffAServerWithoutJetStream: an agent whose connection
// starts on a server without JetStream (as a server cut off from its
// cluster looks) moves to the pool's server whose JetStream answers,
// says so to ErrorHandler, and handles events there.
func TestRunMovesOffAServerWithoutJetStream(t *testing.T) {
	t.Cleanup(agent.SetWatchEvery(20 * time.Millisecond))
	good, _, js := setup(t)
	bad := natstest.RunServer(t, func(o *server.Options) { o.JetStream = false; o.ServerName = "no-js" })
	nc := natstest.ConnectURL(t, bad.ClientURL()+","+good.ClientURL(),
		nats.DontRandomize(), nats.MaxReconnects(-1), nats.ReconnectWait(10*time.Millisecond))
	moved := make(chan error, 16)
	c, err := agent.New(nc, agent.Options{Name: "mover", ErrorHandler: func(err error) {
		if strings.Contains(err.Error(), "JetStream is unavailable") {
			select {
			case moved <- err:
			default:
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	runAgent(t, c, func(_ context.Context, ev *agent.Event) error {
		got <- ev.Text
		return nil
	})
	t.Log(receive(t, moved, 1, "reports of a move")[0])
	waitConsumer(t, js, "mover")
	if url := nc.ConnectedUrl(); url != good.ClientURL() {
		t.Fatalf("connected to %s, want the JetStream server %s", url, good.ClientURL())
	}
	publishEvent(t, js, message("c1", "m1", "hello"))
	if text := receive(t, got, 1, "events")[0]; text != "hello" {
		t.Fatalf("handled %q, want hello", text)
	}
}
