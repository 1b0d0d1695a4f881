package agent_test

import (
	"context"
	"os"
	"os/signal"

	"github.com/nats-io/nats.go"

	"github.com/relaybus/relaybus/pkg/agent"
	"github.com/relaybus/relaybus/pkg/events"
)

// An echo agent: every replica started with the same Name shares the
// events; Reply answers in the event's chat (or as a follow-up to a Discord
// interaction). It connects as the relay's agent identity: NATS_NKEY names
// its seed file (`relay --dev` prints it).
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	seed, err := nats.NkeyOptionFromSeed(os.Getenv("NATS_NKEY"))
	if err != nil {
		return
	}
	nc, err := nats.Connect(nats.DefaultURL, seed)
	if err != nil {
		return
	}
	defer nc.Drain()
	c, err := agent.New(nc, agent.Options{Name: "echo"})
	if err != nil {
		return
	}
	_ = c.Run(ctx, func(ctx context.Context, ev *agent.Event) error {
		_, err := ev.Reply(ctx, "echo: "+ev.Text)
		return err
	})
}

// Sending an action that is not a reply, and waiting for its result.
func ExampleClient_Send() {
	nc, err := nats.Connect(nats.DefaultURL)
	if err != nil {
		return
	}
	defer nc.Close()
	c, _ := agent.New(nc, agent.Options{Name: "notifier"})
	res, err := c.Send(context.Background(), events.Action{Op: events.OpSend, ChatID: "123", Content: "deploy finished", Platform: "discord"})
	switch {
	case err != nil:
		// Not answered in time: the action may still be delivered.
	case res.Declined():
		// The connector's egress guard refused it: final.
	case !res.Success:
		// Failed (or ambiguous: res.Ambiguous).
	}
}
