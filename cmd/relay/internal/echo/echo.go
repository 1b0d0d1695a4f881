// Package echo is the agent `relay --dev` runs: it answers every chat
// message with its text and every Discord interaction with a summary of what
// the interaction carried (command path and options, clicked component,
// submitted modal fields). It is written with the Go client in pkg/agent,
// as any agent would be; examples/echo-agent is the copyable standalone
// version of the same idea.
package echo

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/relaybus/relaybus/pkg/agent"
	"github.com/relaybus/relaybus/pkg/events"
)

// Name is the agent's durable consumer name.
const Name = "echo-agent"

// Run answers events until ctx is done.
func Run(ctx context.Context, nc *nats.Conn, log *slog.Logger) error {
	c, err := agent.New(nc, agent.Options{
		Name:       Name,
		DeliverAll: true, // on first start, answer what is already waiting
		ErrorHandler: func(err error) {
			log.Warn("agent problem", "err", err)
		},
	})
	if err != nil {
		return err
	}
	log.Info("echo agent running", "consumer", Name)
	return c.Run(ctx, func(ctx context.Context, ev *agent.Event) error {
		res, err := ev.Reply(ctx, Answer(&ev.MessageEvent))
		if err != nil {
			return err // not answered in time: redelivered, same reply id
		}
		if !res.Success {
			// Final for this event: a declined or failed reply is not retried.
			log.Warn("reply not delivered", "chat_id", ev.Source.ChatID, "error", res.Error, "code", res.Code)
		}
		return nil
	})
}

// Answer is the echo agent's reply to an event.
func Answer(ev *events.MessageEvent) string {
	in := ev.Interaction
	switch {
	case ev.PromptResponse != nil:
		return fmt.Sprintf("you chose %q on prompt %q", ev.PromptResponse.OptionID, ev.PromptResponse.PromptID)
	case in != nil && in.Command != nil:
		var b strings.Builder
		fmt.Fprintf(&b, "/%s", strings.Join(in.Command.Path, " "))
		if len(in.Command.Options) == 0 && in.Command.Target == nil {
			b.WriteString(" (no options)")
		}
		for _, o := range in.Command.Options {
			v := o.Value
			if o.Display != "" {
				v = o.Display
			}
			fmt.Fprintf(&b, "\n- %s (%s): %s", o.Name, o.Type, v)
		}
		if t := in.Command.Target; t != nil {
			fmt.Fprintf(&b, "\n- target %s: %s", t.Kind, firstNonEmpty(t.Display, t.ID))
		}
		return b.String()
	case in != nil && in.Component != nil:
		c := in.Component
		s := fmt.Sprintf("you used %s %q", c.Type, firstNonEmpty(c.Label, c.CustomID))
		if len(c.Values) > 0 {
			labels := c.ValueLabels
			if len(labels) == 0 {
				labels = c.Values
			}
			s += ": " + strings.Join(labels, ", ")
		}
		return s
	case in != nil && in.Modal != nil:
		var b strings.Builder
		fmt.Fprintf(&b, "form %s:", in.Modal.CustomID)
		for _, f := range in.Modal.Fields {
			v := f.Value
			if len(f.Values) > 0 {
				v = strings.Join(f.Values, ", ")
			}
			fmt.Fprintf(&b, "\n- %s: %s", f.CustomID, v)
		}
		return b.String()
	case ev.Text == "":
		return "echo: (no text)"
	}
	return "echo: " + ev.Text
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
