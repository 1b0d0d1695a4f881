// Package agent is the Go client for relaybus agents: it receives the
// normalized chat events the relay publishes and sends reply actions back,
// without touching the connector WebSocket.
//
// An echo agent:
//
//	seed, _ := nats.NkeyOptionFromSeed(os.Getenv("NATS_NKEY")) // the relay's agent identity
//	nc, _ := nats.Connect(nats.DefaultURL, seed)
//	c, _ := agent.New(nc, agent.Options{Name: "echo"})
//	err := c.Run(ctx, func(ctx context.Context, ev *agent.Event) error {
//		_, err := ev.Reply(ctx, "echo: "+ev.Text)
//		return err
//	})
//
// Delivery:
//
//   - Events come from a durable JetStream consumer on RELAY_INBOUND named
//     [Options.Name], shared by every replica of the agent: events wait
//     while the agent is down, and replicas split the load. One
//     conversation's events (same session key) are handled in order by one
//     handler at a time.
//   - A handler returning nil acks the event; an error (or a panic)
//     redelivers it later with a growing delay (up to [Options.MaxDeliver]
//     deliveries). A long handler keeps its event (the client reports
//     progress to the server). The loop underneath is the one every
//     relaybus stage consumes with (package
//     github.com/relaybus/relaybus/pkg/consume): the consumer is
//     re-created after it is lost, a redelivery of an event still in hand
//     is dropped, and on shutdown running handlers get 10 s to finish.
//   - Actions are published as MessagePack on relay.outbound.<op> with an
//     action id in Nats-Msg-Id. [Client.Send] subscribes to
//     relay.results.<id> before publishing and returns egress's SendResult.
//     Replies made through an [Event] get ids derived from the event, so a
//     redelivered event that replies again is de-duplicated by the bus and
//     answered with the first reply's stored result: a retried turn does
//     not double-post.
//
// Permissions: on a relay with authorization (the default), connect as the
// agent identity (a user nkey; `relay --dev` prints its seed file) with
// the client's default inbox prefix (_INBOX): that identity may publish
// actions, read events and results, and run its own consumers, nothing
// else. A partitioned agent ([Options.Partitions]) creates its work stream,
// which the relay allows only for the names in RELAY_AGENT_NAMES. The sets
// are docs/adr/0001-bus-contract.md §14.
//
// The subjects, headers and payloads are the bus contract of relaybus
// (docs/adr/0001-bus-contract.md); the payload types are those of package
// github.com/relaybus/relaybus/pkg/events. A Client is safe for concurrent
// use. The package never logs: asynchronous problems go to
// [Options.ErrorHandler].
package agent
