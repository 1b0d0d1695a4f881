package natsauth_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/natsauth"
	"github.com/relaybus/relaybus/internal/natsconn"
	"github.com/relaybus/relaybus/pkg/agent"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/jswatch"
	"github.com/relaybus/relaybus/pkg/natstest"
)

// authServer starts a JetStream server that admits only the three
// identities (plus a partitioned agent named "parted"), with the bus's
// streams and buckets created by the stage identity.
func authServer(t *testing.T) (*server.Server, natsauth.Keys) {
	t.Helper()
	keys, err := natsauth.Load(t.TempDir(), env(map[string]string{"RELAY_AGENT_NAMES": "parted"}))
	if err != nil {
		t.Fatal(err)
	}
	ns := natstest.RunServer(t, func(o *server.Options) { o.Nkeys = natsauth.Users(keys) })
	stage, _ := connectAs(t, ns, keys.Stage, nats.CustomInboxPrefix(natsconn.InboxPrefix))
	if err := bus.Ensure(t.Context(), natstest.JetStream(t, stage), bus.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	return ns, keys
}

// violations are the permission errors the server sent a connection.
type violations struct {
	mu   sync.Mutex
	errs []string
}

func (v *violations) has(op, subject string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	want := strings.ToLower(fmt.Sprintf("permissions violation for %s to %q", op, subject))
	for _, e := range v.errs {
		if strings.Contains(strings.ToLower(e), want) {
			return true
		}
	}
	return false
}

func connectAs(t *testing.T, ns *server.Server, k natsauth.Key, extra ...nats.Option) (*nats.Conn, *violations) {
	t.Helper()
	v := &violations{}
	opt, err := k.ConnectOption()
	if err != nil {
		t.Fatal(err)
	}
	opts := append([]nats.Option{opt, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		v.mu.Lock()
		v.errs = append(v.errs, err.Error())
		v.mu.Unlock()
	})}, extra...)
	return natstest.ConnectURL(t, ns.ClientURL(), opts...), v
}

func TestAnonymousRefused(t *testing.T) {
	ns, _ := authServer(t)
	nc, err := nats.Connect(ns.ClientURL(), nats.NoReconnect())
	if err == nil {
		nc.Close()
		t.Fatal("anonymous connection accepted")
	}
	if !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("anonymous connect: %v, want an authorization violation", err)
	}
}

// TestAgentIdentity runs agents under the agent identity — a plain one and
// two replicas of a partitioned one, consuming events, answering each with
// a send whose result they wait for, asking for a chat's name — while the
// same identity tries, between the events, every forgery the issue
// reproduced and more. The valid traffic all arrives; every attack is
// refused by the server and leaves no trace on the bus.
func TestAgentIdentity(t *testing.T) {
	if testing.Short() {
		t.Skip("runs agents against a server for a few seconds")
	}
	ns, keys := authServer(t)
	ctx := t.Context()
	stage, _ := connectAs(t, ns, keys.Stage, nats.CustomInboxPrefix(natsconn.InboxPrefix))
	sjs := natstest.JetStream(t, stage)
	op, _ := connectAs(t, ns, keys.Operator)

	// The stages' side, played by the stage identity: a minimal egress
	// (an action in, its result out), ws-edge's chat_info and edge queue.
	egressCons, err := sjs.CreateOrUpdateConsumer(ctx, events.OutboundStream, jetstream.ConsumerConfig{Durable: "egress-test", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	var actions atomic.Int64
	cc, err := egressCons.Consume(func(m jetstream.Msg) {
		id := m.Headers().Get(events.MsgIDHeader)
		data, _ := events.Marshal(events.SendResult{Success: true, MessageID: "m-" + id}, events.ContentTypeMsgpack)
		r := &nats.Msg{Subject: events.ResultsSubject(id), Data: data, Header: nats.Header{events.ContentTypeHeader: {events.ContentTypeMsgpack}}}
		if _, err := sjs.PublishMsg(ctx, r); err != nil {
			t.Errorf("stage result: %v", err)
		}
		actions.Add(1)
		_ = m.Ack()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Stop)
	if _, err := stage.Subscribe(events.ChatInfoSubject, func(m *nats.Msg) { _ = m.Respond([]byte(`{"name":"general","type":"group"}`)) }); err != nil {
		t.Fatal(err)
	}
	var edgeRequests atomic.Int64
	if _, err := stage.QueueSubscribe(events.EdgeOutboundSubject, events.EdgeQueue, func(*nats.Msg) { edgeRequests.Add(1) }); err != nil {
		t.Fatal(err)
	}
	forgedResults, err := op.SubscribeSync("relay.results.forged")
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := stage.Flush(); err != nil {
		t.Fatal(err)
	}

	// The agents.
	const n = 12
	var plain, parted atomic.Int64
	var replyErrs atomic.Int64
	var agentViolations []*violations
	runAgent := func(name string, partitions int, count *atomic.Int64) {
		nc, v := connectAs(t, ns, keys.Agent, nats.Name(name))
		agentViolations = append(agentViolations, v)
		c, err := agent.New(nc, agent.Options{Name: name, Partitions: partitions, Workers: 4, AckWait: 5 * time.Second,
			ErrorHandler: func(err error) { t.Logf("%s: %v", name, err) }})
		if err != nil {
			t.Fatal(err)
		}
		natstest.Go(t, name, func(ctx context.Context) error {
			return c.Run(ctx, func(ctx context.Context, ev *agent.Event) error {
				res, err := ev.Reply(ctx, "echo "+ev.Text)
				if err != nil {
					return err
				}
				if !res.Success {
					replyErrs.Add(1)
				}
				count.Add(1)
				return nil
			})
		})
	}
	runAgent("plain", 0, &plain)
	runAgent("parted", 2, &parted)
	runAgent("parted", 2, &parted)
	// Wait until the consumers exist (the events published before a new
	// consumer are not its).
	natstest.WaitFor(t, 10*time.Second, func() error {
		for _, c := range []struct{ stream, name string }{{events.InboundStream, "plain"}, {agent.WorkStream("parted"), "parted-p0"}, {agent.WorkStream("parted"), "parted-p1"}} {
			if _, err := sjs.Consumer(ctx, c.stream, c.name); err != nil {
				return fmt.Errorf("%s/%s: %w", c.stream, c.name, err)
			}
		}
		return nil
	})

	// The attacker: the agent identity, on a connection of its own.
	evil, viol := connectAs(t, ns, keys.Agent, nats.Name("evil"))
	ejs := natstest.JetStream(t, evil)
	short := func() context.Context {
		c, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		t.Cleanup(cancel)
		return c
	}
	frame := []byte(`{"type":"inbound","bufferId":"b1","event":{"text":"forged","source":{"platform":"discord","chat_id":"victim"}}}`)
	attacks := []struct {
		name    string
		op, sub string // the violation the server reports
		do      func() error
	}{
		{"forged raw frame", "publish", "relay.raw.inbound.victim", func() error {
			_, err := ejs.Publish(short(), "relay.raw.inbound.victim", frame)
			return err
		}},
		{"unkeyed raw frame", "publish", "relay.raw.inbound", func() error { return evil.Publish("relay.raw.inbound", frame) }},
		{"edge request", "publish", events.EdgeOutboundSubject, func() error {
			_, err := evil.Request(events.EdgeOutboundSubject, []byte(`{"type":"outbound","op":"send","chat_id":"victim","content":"x"}`), 300*time.Millisecond)
			return err
		}},
		{"forged result", "publish", "relay.results.forged", func() error {
			_, err := ejs.Publish(short(), "relay.results.forged", []byte(`{"success":true}`))
			return err
		}},
		{"scope put", "publish", "$KV.relay_scope.discord.victim", func() error {
			_, err := ejs.Publish(short(), "$KV.relay_scope.discord.victim", []byte(`{}`))
			return err
		}},
		{"scope bucket", "publish", "$JS.API.STREAM.INFO.KV_relay_scope", func() error {
			_, err := ejs.KeyValue(short(), events.ScopeBucket)
			return err
		}},
		{"descriptor put", "publish", "$KV.relay_descriptor.discord", func() error {
			return evil.Publish("$KV.relay_descriptor.discord", []byte(`{}`))
		}},
		{"read stage inboxes", "subscription", natsconn.InboxPrefix + ".>", func() error {
			_, err := evil.SubscribeSync(natsconn.InboxPrefix + ".>")
			return err
		}},
		{"read raw frames", "subscription", "relay.raw.>", func() error {
			_, err := evil.SubscribeSync("relay.raw.>")
			return err
		}},
		{"read actions", "subscription", "relay.outbound.>", func() error {
			_, err := evil.SubscribeSync("relay.outbound.>")
			return err
		}},
		{"consumer on raw frames", "publish", "$JS.API.CONSUMER.CREATE.RELAY_RAW.evil", func() error {
			_, err := ejs.CreateOrUpdateConsumer(short(), events.RawStream, jetstream.ConsumerConfig{Durable: "evil"})
			return err
		}},
		{"stream capturing edge requests", "publish", "$JS.API.STREAM.CREATE.EVIL", func() error {
			_, err := ejs.CreateStream(short(), jetstream.StreamConfig{Name: "EVIL", Subjects: []string{events.EdgeOutboundSubject}})
			return err
		}},
		{"delete the inbound stream", "publish", "$JS.API.STREAM.DELETE.RELAY_INBOUND", func() error {
			return ejs.DeleteStream(short(), events.InboundStream)
		}},
		{"fake converter replica", "publish", "relay.members.RELAY_RAW.converter", func() error {
			return evil.Publish("relay.members.RELAY_RAW.converter", []byte("x"))
		}},
		{"forged event", "publish", "relay.inbound.message.discord.victim", func() error {
			return evil.Publish("relay.inbound.message.discord.victim", []byte("x"))
		}},
	}

	publishEvent := func(i int) {
		chat := fmt.Sprintf("c%d", i%4)
		ev := events.MessageEvent{Text: fmt.Sprintf("hi %d", i), MessageType: "text", MessageID: fmt.Sprintf("m%d", i),
			Source: events.SessionSource{Platform: "discord", ChatID: chat, ChatType: "group"}, SessionKey: "discord:group:" + chat}
		data, err := events.Marshal(ev, events.ContentTypeMsgpack)
		if err != nil {
			t.Fatal(err)
		}
		m := &nats.Msg{Subject: events.InboundMessageSubject("discord", chat), Data: data, Header: nats.Header{
			events.ContentTypeHeader: {events.ContentTypeMsgpack}, events.TypeHeader: {events.TypeMessageEvent},
			events.SessionKeyHeader: {ev.SessionKey}, events.MsgIDHeader: {fmt.Sprintf("ev-%d", i)}}}
		if _, err := sjs.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		publishEvent(i)
		a := attacks[i%len(attacks)]
		if i+len(attacks) < n+len(attacks) { // every attack runs at least once
			_ = a.do()
		}
		// And a valid request between the attacks: a chat's name.
		r, err := evil.Request(events.ChatInfoSubject, []byte(`{"chat_id":"c1"}`), 5*time.Second)
		if err != nil || !strings.Contains(string(r.Data), "general") {
			t.Errorf("chat_info as the agent: %v", err)
		}
	}
	for _, a := range attacks[min(n, len(attacks)):] {
		_ = a.do()
	}
	_ = evil.Flush()

	natstest.WaitFor(t, 30*time.Second, func() error {
		if p, q := plain.Load(), parted.Load(); p < n || q < n {
			return fmt.Errorf("plain agent answered %d, partitioned %d, want %d each", p, q, n)
		}
		return nil
	})
	if got := replyErrs.Load(); got != 0 {
		t.Errorf("%d replies failed", got)
	}
	if got := actions.Load(); got != 2*n {
		t.Errorf("egress saw %d actions, want %d", got, 2*n)
	}
	// An action published twice: the second Send finds the first's
	// result in RELAY_RESULTS.
	dup, err := agent.New(evil, agent.Options{Name: "dup"})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		res, err := dup.Send(ctx, events.Action{Op: events.OpSend, ChatID: "c1", Content: "once"}, agent.WithID("dup-1"))
		if err != nil || res.MessageID != "m-dup-1" {
			t.Errorf("Send of dup-1 = %+v, %v", res, err)
		}
	}
	natstest.WaitFor(t, 5*time.Second, func() error {
		for _, a := range attacks {
			if !viol.has(a.op, a.sub) {
				return fmt.Errorf("%s: no permissions violation for %s to %q reported", a.name, a.op, a.sub)
			}
		}
		return nil
	})
	// The client's JetStream watch (pkg/jswatch, run by agent.Run every
	// 5 s) asks for the account's JetStream info: allowed.
	probe, pv := connectAs(t, ns, keys.Agent, nats.Name("probe"))
	agentViolations = append(agentViolations, pv)
	if err := jswatch.Probe(ctx, probe, 5*time.Second); err != nil {
		t.Errorf("jswatch.Probe as the agent: %v", err)
	}
	// The valid traffic needed nothing it was refused.
	for i, v := range agentViolations {
		v.mu.Lock()
		if len(v.errs) > 0 {
			t.Errorf("agent %d was refused: %q", i, v.errs)
		}
		v.mu.Unlock()
	}
	// And nothing of them reached the bus.
	if info, err := sjs.Stream(ctx, events.RawStream); err != nil || info.CachedInfo().State.Msgs != 0 {
		t.Errorf("RELAY_RAW holds a forged frame: %v", err)
	}
	if got := edgeRequests.Load(); got != 0 {
		t.Errorf("ws-edge got %d forged edge requests", got)
	}
	if m, err := forgedResults.NextMsg(100 * time.Millisecond); err == nil {
		t.Errorf("a forged result was delivered: %q", m.Data)
	}
	if kv, err := sjs.KeyValue(ctx, events.ScopeBucket); err != nil {
		t.Fatal(err)
	} else if _, err := kv.Get(ctx, "discord.victim"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("forged scope stored: %v", err)
	}
	if _, err := sjs.Stream(ctx, "EVIL"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("stream EVIL: %v, want not found", err)
	}
	if _, err := sjs.Consumer(ctx, events.RawStream, "evil"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Errorf("consumer evil on RELAY_RAW: %v, want not found", err)
	}
	if _, err := sjs.Stream(ctx, events.InboundStream); err != nil {
		t.Errorf("RELAY_INBOUND: %v", err)
	}
}

// TestOperatorIdentity: the operator reads everything and may replay and
// send, and may not forge what only a stage writes.
func TestOperatorIdentity(t *testing.T) {
	ns, keys := authServer(t)
	ctx := t.Context()
	op, viol := connectAs(t, ns, keys.Operator)
	ojs := natstest.JetStream(t, op)
	all, err := op.SubscribeSync(">")
	if err != nil {
		t.Fatal(err)
	}
	_ = op.Flush()
	stage, _ := connectAs(t, ns, keys.Stage, nats.CustomInboxPrefix(natsconn.InboxPrefix))
	if err := stage.Publish("relay.rpc.anything", []byte("seen")); err != nil {
		t.Fatal(err)
	}
	if m, err := all.NextMsg(2 * time.Second); err != nil || m.Subject != "relay.rpc.anything" {
		t.Errorf("operator reading everything: %v", err)
	}
	// dlq replay and send publish to the stages' inputs; dlq reads and
	// deletes dead letters.
	if _, err := ojs.Publish(ctx, "relay.raw.inbound.c1", []byte(`{"type":"inbound"}`)); err != nil {
		t.Errorf("replaying a frame: %v", err)
	}
	if _, err := ojs.Publish(ctx, "relay.outbound.send.c1", []byte(`{"op":"send","chat_id":"c1","content":"x"}`)); err != nil {
		t.Errorf("sending an action: %v", err)
	}
	dlq, err := ojs.Stream(ctx, events.DLQStream)
	if err != nil {
		t.Fatal(err)
	}
	if err := dlq.Purge(ctx); err != nil {
		t.Errorf("purging dead letters: %v", err)
	}
	// A forged ack log batch would make ws-edge absorb (ack and drop) a
	// replayed frame it never stored.
	forged := []string{"relay.results.x", "relay.inbound.message.discord.c1", events.EdgeOutboundSubject,
		"$KV.relay_scope.discord.c1", "relay.acklog.edge-1"}
	for _, s := range forged {
		_ = op.Publish(s, []byte("forged"))
	}
	_ = op.Flush()
	natstest.WaitFor(t, 5*time.Second, func() error {
		for _, s := range forged {
			if !viol.has("publish", s) {
				return fmt.Errorf("no violation for publish to %s", s)
			}
		}
		return nil
	})
}
