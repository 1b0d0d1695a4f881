package agent_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/pkg/agent"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
)

// setup runs a server with the streams an agent uses, as internal/bus
// creates them (in memory, only what the client relies on): events,
// actions (a work queue de-duplicating by action id) and results (one per
// action).
func setup(t testing.TB) (*server.Server, *nats.Conn, jetstream.JetStream) {
	t.Helper()
	ns := natstest.RunServer(t)
	nc := natstest.Connect(t, ns)
	js := natstest.JetStream(t, nc)
	for _, sc := range []jetstream.StreamConfig{
		{Name: events.InboundStream, Subjects: []string{events.InboundSubjects}},
		{Name: events.OutboundStream, Subjects: []string{events.OutboundSubjects}, Retention: jetstream.WorkQueuePolicy, Duplicates: time.Hour},
		{Name: events.ResultsStream, Subjects: []string{events.ResultsSubjectPrefix + ">"}, MaxMsgsPerSubject: 1},
	} {
		sc.Storage = jetstream.MemoryStorage
		if _, err := js.CreateStream(t.Context(), sc); err != nil {
			t.Fatal(err)
		}
	}
	return ns, nc, js
}

// fakeEgress plays egress: it reads every action published on
// relay.outbound.> and stores a scripted result on relay.results.<id>.
type fakeEgress struct {
	mu      sync.Mutex
	actions []events.Action
	ids     []string
	answer  func(a events.Action) events.SendResult
}

func newFakeEgress(t testing.TB, ns *server.Server, answer func(events.Action) events.SendResult) *fakeEgress {
	t.Helper()
	nc := natstest.Connect(t, ns)
	js := natstest.JetStream(t, nc)
	f := &fakeEgress{answer: answer}
	// Like egress: a durable consumer on the stream (which de-duplicates by
	// Nats-Msg-Id), not a core subscription (which sees every publish).
	cons, err := js.CreateOrUpdateConsumer(t.Context(), events.OutboundStream, jetstream.ConsumerConfig{Durable: "egress", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		a, err := events.DecodeAction(m.Data(), m.Headers().Get(events.ContentTypeHeader), "")
		if err != nil {
			t.Errorf("agent published a bad action: %v", err)
			_ = m.Term()
			return
		}
		id := m.Headers().Get(events.MsgIDHeader)
		f.mu.Lock()
		f.actions = append(f.actions, a)
		f.ids = append(f.ids, id)
		f.mu.Unlock()
		if f.answer != nil {
			data, _ := events.Marshal(f.answer(a), events.ContentTypeMsgpack)
			r := &nats.Msg{Subject: events.ResultsSubject(id), Data: data, Header: nats.Header{
				events.ContentTypeHeader: {events.ContentTypeMsgpack},
				events.TypeHeader:        {events.TypeSendResult},
				events.MsgIDHeader:       {"res:" + id},
			}}
			if _, err := js.PublishMsg(context.Background(), r); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
				t.Errorf("storing result: %v", err)
			}
		}
		_ = m.Ack()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Stop)
	return f
}

func (f *fakeEgress) seen() ([]events.Action, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]events.Action(nil), f.actions...), append([]string(nil), f.ids...)
}

func sent(a events.Action) events.SendResult {
	return events.SendResult{Success: true, MessageID: "out-" + a.Content}
}

// publishEvent stores a message event the way the converter does.
func publishEvent(t testing.TB, js jetstream.JetStream, ev events.MessageEvent) {
	t.Helper()
	ev.Normalize()
	data, err := events.Marshal(ev, events.ContentTypeMsgpack)
	if err != nil {
		t.Fatal(err)
	}
	m := &nats.Msg{Subject: events.InboundMessageSubject(ev.Source.Platform, ev.Source.ChatID), Data: data, Header: nats.Header{
		events.ContentTypeHeader: {events.ContentTypeMsgpack},
		events.TypeHeader:        {events.TypeMessageEvent},
		events.SessionKeyHeader:  {ev.SessionKey},
	}}
	if _, err := js.PublishMsg(t.Context(), m); err != nil {
		t.Fatal(err)
	}
}

// runAgent runs c.Run until the test ends.
func runAgent(t testing.TB, c *agent.Client, h agent.Handler) (stop func()) {
	t.Helper()
	return natstest.Go(t, "agent", func(ctx context.Context) error { return c.Run(ctx, h) })
}

// waitConsumer waits until the agent's durable consumer exists (events
// published before it are not delivered to a new consumer).
func waitConsumer(t testing.TB, js jetstream.JetStream, name string) {
	t.Helper()
	natstest.WaitFor(t, 10*time.Second, func() error {
		_, err := js.Consumer(t.Context(), events.InboundStream, name)
		return err
	})
}

// receive returns the next n values from ch; it fails t when one does not
// arrive within 10 s, showing those that did (what names them).
func receive[T any](t testing.TB, ch <-chan T, n int, what string) []T {
	t.Helper()
	var got []T
	for range n {
		select {
		case v := <-ch:
			got = append(got, v)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s so far %+v, want %d", what, got, n)
		}
	}
	return got
}

func message(chat, id, text string) events.MessageEvent {
	return events.MessageEvent{Text: text, MessageID: id, Source: events.SessionSource{Platform: "discord", ChatID: chat, ChatType: "group", UserID: "u1"}}
}

func TestEchoReply(t *testing.T) {
	ns, nc, js := setup(t)
	eg := newFakeEgress(t, ns, sent)
	c, err := agent.New(nc, agent.Options{Name: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan events.SendResult, 2)
	runAgent(t, c, func(ctx context.Context, ev *agent.Event) error {
		res, err := ev.Reply(ctx, "echo: "+ev.Text)
		results <- res
		return err
	})
	waitConsumer(t, js, "echo")

	interaction := message("chan2", "", "/ping")
	interaction.Interaction = &events.Interaction{ID: "i1", Kind: "application_command"}
	publishEvent(t, js, message("chan1", "m1", "hi"))
	publishEvent(t, js, interaction)

	for range 2 {
		select {
		case res := <-results:
			if !res.Success || res.MessageID == "" {
				t.Errorf("reply result = %+v, want success", res)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no reply result")
		}
	}
	actions, ids := eg.seen()
	want := []events.Action{
		{Op: events.OpSend, ChatID: "chan1", Content: "echo: hi", ReplyTo: ptr("m1"), Platform: "discord"},
		{Op: events.OpFollowUp, SessionKey: "agent:main:discord:group:chan2:u1", Kind: events.FollowUpKindDiscord, Content: "echo: /ping", Platform: "discord"},
	}
	if len(actions) == 2 && actions[0].Op != events.OpSend {
		actions[0], actions[1] = actions[1], actions[0] // different conversations: any order
	}
	if diff := cmp.Diff(want, actions); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}
	for _, id := range ids {
		if id == "" {
			t.Errorf("action without Nats-Msg-Id")
		}
	}
}

func ptr(s string) *string { return &s }

// TestRetriedTurnDoesNotDoublePost fails the handler after its reply went
// out: the redelivered event replies again with the same derived id, the
// bus absorbs the duplicate, and the handler still gets the first result.
func TestRetriedTurnDoesNotDoublePost(t *testing.T) {
	ns, nc, js := setup(t)
	eg := newFakeEgress(t, ns, sent)
	c, err := agent.New(nc, agent.Options{Name: "flaky", RetryBase: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	type turn struct {
		delivery uint64
		res      events.SendResult
	}
	turns := make(chan turn, 4)
	runAgent(t, c, func(ctx context.Context, ev *agent.Event) error {
		res, err := ev.Reply(ctx, "answer")
		if err != nil {
			return err
		}
		turns <- turn{ev.Delivery, res}
		if ev.Delivery == 1 {
			return errors.New("tool call failed after replying")
		}
		return nil
	})
	waitConsumer(t, js, "flaky")
	publishEvent(t, js, message("c", "m1", "q"))
	got := receive(t, turns, 2, "turns")
	want := []turn{{1, events.SendResult{Success: true, MessageID: "out-answer"}}, {2, events.SendResult{Success: true, MessageID: "out-answer"}}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(turn{})); diff != "" {
		t.Errorf("turns (-want +got):\n%s", diff)
	}
	if actions, _ := eg.seen(); len(actions) != 1 {
		t.Errorf("actions reaching egress = %d, want 1", len(actions))
	}
}

func TestSendAndPublish(t *testing.T) {
	ns, nc, _ := setup(t)
	eg := newFakeEgress(t, ns, func(a events.Action) events.SendResult {
		if a.ChatID == "declined" {
			return events.SendResult{Code: events.CodeEgressDeclined, Error: "egress declined: not routed"}
		}
		return sent(a)
	})
	c, err := agent.New(nc, agent.Options{Name: "sender"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	res, err := c.Send(ctx, events.Action{Op: events.OpSend, ChatID: "c", Content: "x"})
	if err != nil || !res.Success || res.MessageID != "out-x" {
		t.Errorf("Send = %+v, %v, want success out-x", res, err)
	}
	res, err = c.Send(ctx, events.Action{Op: events.OpSend, ChatID: "declined", Content: "x"})
	if err != nil || !res.Declined() {
		t.Errorf("Send(declined) = %+v, %v, want a declined result and no error", res, err)
	}

	// The same id again: absorbed by the bus, answered from the store.
	first, err := c.Send(ctx, events.Action{Op: events.OpSend, ChatID: "c", Content: "once"}, agent.WithID("fixed-1"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Send(ctx, events.Action{Op: events.OpSend, ChatID: "c", Content: "once"}, agent.WithID("fixed-1"))
	if err != nil || !cmp.Equal(first, again) {
		t.Errorf("repeated Send = %+v, %v, want %+v", again, err, first)
	}

	id, err := c.Publish(ctx, events.Action{Op: events.OpTyping, ChatID: "c"}, agent.WithDeadline(time.Now().Add(time.Minute)))
	if err != nil || len(id) != 32 {
		t.Errorf("Publish = %q, %v, want a 32-char id", id, err)
	}
	natstest.WaitFor(t, 5*time.Second, func() error {
		if a, _ := eg.seen(); len(a) != 4 {
			return fmt.Errorf("actions = %d, want 4", len(a))
		}
		return nil
	})

	if _, err := c.Send(ctx, events.Action{Op: events.OpSend, Content: "no chat"}); !errors.Is(err, events.ErrBadAction) {
		t.Errorf("Send(invalid) = %v, want ErrBadAction", err)
	}
}

func TestSendWithoutEgressTimesOut(t *testing.T) {
	_, nc, _ := setup(t)
	c, err := agent.New(nc, agent.Options{Name: "lonely"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err = c.Send(ctx, events.Action{Op: events.OpSend, ChatID: "c", Content: "x"})
	if !errors.Is(err, agent.ErrNoResult) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send = %v, want ErrNoResult wrapping DeadlineExceeded", err)
	}
}

func TestEventsWaitForTheAgentAndReplicasShare(t *testing.T) {
	ns, _, js := setup(t)
	newFakeEgress(t, ns, sent)
	var mu sync.Mutex
	handled := map[string][]string{} // text -> replicas
	handler := func(name string) agent.Handler {
		return func(ctx context.Context, ev *agent.Event) error {
			mu.Lock()
			handled[ev.Text] = append(handled[ev.Text], name)
			mu.Unlock()
			return nil
		}
	}
	nc1 := natstest.Connect(t, ns)
	c1, _ := agent.New(nc1, agent.Options{Name: "shared", Workers: 2})
	stop1 := runAgent(t, c1, handler("r1"))
	waitConsumer(t, js, "shared")
	// The agent goes down (process exit: its connection closes, so the
	// server drops its pending pull request).
	stop1()
	nc1.Close()
	natstest.WaitFor(t, 10*time.Second, func() error {
		c, err := js.Consumer(t.Context(), events.InboundStream, "shared")
		if err != nil {
			return err
		}
		info, err := c.Info(t.Context())
		if err != nil {
			return err
		}
		if info.NumWaiting != 0 {
			return fmt.Errorf("server still holds %d pull requests of the stopped replica", info.NumWaiting)
		}
		return nil
	})

	const n = 30
	for i := range n {
		publishEvent(t, js, message(fmt.Sprintf("chat%d", i), fmt.Sprint(i), fmt.Sprint(i)))
	}
	c2, _ := agent.New(natstest.Connect(t, ns), agent.Options{Name: "shared", Workers: 2})
	c3, _ := agent.New(natstest.Connect(t, ns), agent.Options{Name: "shared", Workers: 2})
	runAgent(t, c2, handler("r2"))
	runAgent(t, c3, handler("r3"))
	natstest.WaitFor(t, 10*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(handled) != n {
			return fmt.Errorf("handled %d events, want %d", len(handled), n)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	for text, by := range handled {
		if len(by) != 1 {
			t.Errorf("event %s handled by %v, want exactly once", text, by)
		}
	}
}

func TestHandlerFailures(t *testing.T) {
	ns, _, js := setup(t)
	newFakeEgress(t, ns, sent)
	errs := make(chan error, 4)
	c, _ := agent.New(natstest.Connect(t, ns), agent.Options{
		Name: "fragile", MaxDeliver: 2, RetryBase: 10 * time.Millisecond,
		ErrorHandler: func(err error) { errs <- err },
	})
	var mu sync.Mutex
	deliveries := map[string]int{}
	runAgent(t, c, func(ctx context.Context, ev *agent.Event) error {
		mu.Lock()
		deliveries[ev.Text]++
		mu.Unlock()
		switch ev.Text {
		case "panic":
			panic("boom")
		case "fail":
			return errors.New("always")
		}
		return nil
	})
	waitConsumer(t, js, "fragile")
	publishEvent(t, js, message("c1", "1", "panic"))
	publishEvent(t, js, message("c2", "2", "fail"))
	// Not msgpack at all.
	if _, err := js.PublishMsg(t.Context(), &nats.Msg{Subject: "relay.inbound.message.discord.c3", Data: []byte{0xc1}}); err != nil {
		t.Fatal(err)
	}
	got := receive(t, errs, 3, "errors")
	var gaveUp, bad int
	for _, err := range got {
		switch {
		case errors.Is(err, agent.ErrGaveUp):
			gaveUp++
		case errors.Is(err, agent.ErrBadEvent):
			bad++
		}
	}
	if gaveUp != 2 || bad != 1 {
		t.Errorf("errors %v: want 2 ErrGaveUp and 1 ErrBadEvent", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(map[string]int{"panic": 2, "fail": 2}, deliveries); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
}

func TestInterrupts(t *testing.T) {
	ns, _, js := setup(t)
	c, _ := agent.New(natstest.Connect(t, ns), agent.Options{Name: "stoppable"})
	got := make(chan events.Interrupt, 1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- c.Interrupts(ctx, func(in events.Interrupt) error { got <- in; return nil })
	}()
	want := events.Interrupt{SessionKey: "agent:main:discord:group:c:u", ChatID: "c", Platform: "discord"}
	data, _ := events.Marshal(want, events.ContentTypeMsgpack)
	natstest.WaitFor(t, 5*time.Second, func() error {
		m := &nats.Msg{Subject: events.InboundInterruptSubject("discord", "c"), Data: data, Header: nats.Header{events.TypeHeader: {events.TypeInterrupt}}}
		if _, err := js.PublishMsg(t.Context(), m); err != nil {
			return err
		}
		select {
		case in := <-got:
			if diff := cmp.Diff(want, in); diff != "" {
				t.Errorf("interrupt (-want +got):\n%s", diff)
			}
			return nil
		case <-time.After(100 * time.Millisecond):
			return errors.New("no interrupt yet")
		}
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Interrupts = %v", err)
	}
}

func TestNewValidates(t *testing.T) {
	_, nc, _ := setup(t)
	tests := []struct {
		name string
		opts agent.Options
	}{
		{"ErrNoName", agent.Options{}},
		{"ErrBadName", agent.Options{Name: "my.agent"}},
		{"ErrWorkers", agent.Options{Name: "a", Workers: -1}},
		{"ErrAckWait", agent.Options{Name: "a", AckWait: time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := agent.New(nc, tt.opts); !errors.Is(err, agent.ErrInvalidOptions) {
				t.Errorf("New(%+v) = %v, want ErrInvalidOptions", tt.opts, err)
			}
		})
	}
	if _, err := agent.New(nil, agent.Options{Name: "a"}); !errors.Is(err, agent.ErrInvalidOptions) {
		t.Errorf("New(nil conn) = %v, want ErrInvalidOptions", err)
	}
}
