package converter_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/fixtures"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/pkg/wire"
	"github.com/relaybus/relaybus/services/passthrough-converter/converter"
)

type env struct {
	ns *server.Server
	nc *nats.Conn
	js jetstream.JetStream
}

func newEnv(t *testing.T) *env { return newEnvB(t) }

func newEnvB(t testing.TB) *env { return newEnvBus(t, bus.DefaultConfig()) }

// newEnvBus is newEnvB with the streams shaped by bc.
func newEnvBus(t testing.TB, bc bus.Config) *env {
	t.Helper()
	ns := natstest.RunServer(t)
	nc := natstest.Connect(t, ns)
	js := natstest.JetStream(t, nc)
	if err := bus.Ensure(t.Context(), js, bc); err != nil {
		t.Fatal(err)
	}
	return &env{ns: ns, nc: nc, js: js}
}

// startConverter runs one converter replica on its own connection and
// returns a function that stops it (and waits for Run to return).
func (e *env) startConverter(t *testing.T, name string) func() {
	t.Helper()
	cfg := converter.DefaultConfig()
	cfg.Workers = 8
	cfg.ShutdownTimeout = 5 * time.Second
	return e.run(t, cfg, natstest.Logger(t).With("replica", name))
}

// run runs a converter with cfg, logging to log, on its own connection to
// e's server until stop is called or the test ends (see natstest.Go: Run
// must return nil), and waits until it is ready.
func (e *env) run(t testing.TB, cfg converter.Config, log *slog.Logger) (stop func()) {
	t.Helper()
	svc, err := converter.New(cfg, converter.Deps{Log: log, NC: natstest.Connect(t, e.ns)})
	if err != nil {
		t.Fatal(err)
	}
	stop = natstest.Go(t, "converter", svc.Run)
	natstest.WaitFor(t, 10*time.Second, func() error { return svc.Ready(t.Context()) })
	return stop
}

// publishRaw stores a frame on RELAY_RAW the way ws-edge does.
func (e *env) publishRaw(t *testing.T, frame []byte, bufferID string) {
	t.Helper()
	var f struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(frame, &f)
	typ := f.Type
	if typ == "" {
		typ = "unknown"
	}
	key := wire.ChatKey(typ, frame)
	m := nats.NewMsg(events.RawChatSubject(typ, key))
	m.Header.Set(events.ChatHeader, events.SubjectToken(key))
	m.Data = frame
	m.Header.Set(events.ReceivedAtHeader, time.Now().UTC().Format(time.RFC3339Nano))
	if bufferID != "" {
		m.Header.Set(events.MsgIDHeader, bufferID)
	}
	if _, err := e.js.PublishMsg(t.Context(), m); err != nil {
		t.Fatal(err)
	}
}

func forwardFrame(platform string, body []byte, bufferID string) []byte {
	f := map[string]any{
		"type": "passthrough_forward",
		"forward": map[string]any{
			"platform": platform, "botId": "bot1", "method": "POST", "path": "/interactions/" + platform + "/bot1",
			"headers": [][]string{{"content-type", "application/json"}},
			"bodyB64": base64.StdEncoding.EncodeToString(body),
		},
	}
	if bufferID != "" {
		f["bufferId"] = bufferID
	}
	b, _ := json.Marshal(f)
	return b
}

// received is one message read back from RELAY_INBOUND.
type received struct {
	subject string
	header  nats.Header
	event   events.MessageEvent
	data    []byte
}

// readInbound reads exactly n messages from RELAY_INBOUND (waiting up to
// 10 s) and then checks that no more arrive for a short while.
func (e *env) readInbound(t *testing.T, n int) []received {
	t.Helper()
	cons, err := e.js.OrderedConsumer(t.Context(), events.InboundStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []received
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < n && time.Now().Before(deadline) {
		batch, err := cons.Fetch(n-len(out), jetstream.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			r := received{subject: m.Subject(), header: m.Headers(), data: m.Data()}
			if strings.HasPrefix(m.Subject(), "relay.inbound.message.") {
				if err := events.Unmarshal(m.Data(), m.Headers().Get(events.ContentTypeHeader), &r.event); err != nil {
					t.Fatalf("decoding event on %s: %v", m.Subject(), err)
				}
			}
			out = append(out, r)
		}
	}
	if len(out) != n {
		t.Fatalf("read %d inbound messages, want %d", len(out), n)
	}
	extra, err := cons.Fetch(1, jetstream.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	for m := range extra.Messages() {
		t.Fatalf("unexpected extra inbound message on %s", m.Subject())
	}
	return out
}

func (e *env) scope(t *testing.T, platform, chat string) (events.Scope, uint64, error) {
	t.Helper()
	kv, err := e.js.KeyValue(t.Context(), events.ScopeBucket)
	if err != nil {
		t.Fatal(err)
	}
	entry, err := kv.Get(t.Context(), events.ScopeKey(platform, chat))
	if err != nil {
		return events.Scope{}, 0, err
	}
	var s events.Scope
	if err := events.Unmarshal(entry.Value(), events.ContentTypeMsgpack, &s); err != nil {
		t.Fatal(err)
	}
	return s, entry.Revision(), nil
}

func (e *env) dlq(t *testing.T, want int) []*jetstream.RawStreamMsg {
	t.Helper()
	return natstest.WaitStored(t, e.js, events.DLQStream, want, 10*time.Second)
}

func fixture(t *testing.T, name string) ([]byte, map[string]any) {
	t.Helper()
	b, err := fixtures.ReadDiscord(name)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return b, m
}

func userID(m map[string]any) string {
	if mem, ok := m["member"].(map[string]any); ok {
		return mem["user"].(map[string]any)["id"].(string)
	}
	return m["user"].(map[string]any)["id"].(string)
}

func TestDiscordFixturesEndToEnd(t *testing.T) {
	e := newEnv(t)
	e.startConverter(t, "a")
	tests := []struct {
		file, wantText, wantType, wantChatType string
		thread                                 bool
	}{
		{file: "02_slash_command_options.json", wantText: "/cardsearch The Gitrog Monster", wantType: events.MessageCommand, wantChatType: events.ChatGroup},
		{file: "04_slash_subcommand.json", wantText: "/config set model claude-sonnet-4", wantType: events.MessageCommand, wantChatType: events.ChatGroup},
		{file: "05_slash_subcommand_group.json", wantText: "/permissions user get 749535180538201585 1326905914257835648", wantType: events.MessageCommand, wantChatType: events.ChatGroup},
		{file: "08_button_click.json", wantText: "hello", wantType: events.MessageText, wantChatType: events.ChatThread, thread: true},
		{file: "09_string_select.json", wantText: "class_select_1", wantType: events.MessageText, wantChatType: events.ChatGroup},
		{file: "11_modal_submit.json", wantText: "bug_string_select=butterfly\nbug_explanation=They start as caterpillars and end up with wings.\nAlso the colours are great.\nsubscribe=true", wantType: events.MessageText, wantChatType: events.ChatGroup},
		{file: "14_dm_slash_command.json", wantText: "/ask summarise my open tickets", wantType: events.MessageCommand, wantChatType: events.ChatDM},
	}
	// PING first: it must produce nothing.
	ping, _ := fixture(t, "01_ping.json")
	e.publishRaw(t, forwardFrame("discord", ping, "b-ping"), "b-ping")
	for i, tt := range tests {
		body, _ := fixture(t, tt.file)
		id := "b-" + strconv.Itoa(i)
		e.publishRaw(t, forwardFrame("discord", body, id), id)
	}
	got := e.readInbound(t, len(tests))
	byID := map[string]received{}
	for _, r := range got {
		byID[r.event.MessageID] = r
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body, m := fixture(t, tt.file)
			r, ok := byID[m["id"].(string)]
			if !ok {
				t.Fatalf("no event with message_id %s", m["id"])
			}
			ev := r.event
			if ev.Text != tt.wantText || ev.MessageType != tt.wantType {
				t.Errorf("text, type = %q, %q; want %q, %q", ev.Text, ev.MessageType, tt.wantText, tt.wantType)
			}
			chat, _ := m["channel_id"].(string)
			if want := events.InboundMessageSubject("discord", chat); r.subject != want {
				t.Errorf("subject = %q, want %q", r.subject, want)
			}
			if ev.Source.ChatType != tt.wantChatType {
				t.Errorf("chat_type = %q, want %q", ev.Source.ChatType, tt.wantChatType)
			}
			var wantKey string
			switch {
			case tt.wantChatType == events.ChatDM:
				wantKey = "agent:main:discord:dm:" + chat
			case tt.thread:
				wantKey = "agent:main:discord:thread:" + chat + ":" + chat
			default:
				wantKey = "agent:main:discord:group:" + chat + ":" + userID(m)
			}
			if ev.SessionKey != wantKey || r.header.Get(events.SessionKeyHeader) != wantKey {
				t.Errorf("session key = %q (header %q), want %q", ev.SessionKey, r.header.Get(events.SessionKeyHeader), wantKey)
			}
			if ev.Interaction == nil {
				t.Error("structured interaction part missing")
			}
			if tok, _ := m["token"].(string); tok != "" && strings.Contains(string(r.data), tok) {
				t.Error("interaction token present in the published event")
			}
			_ = body
			guild, _ := m["guild_id"].(string)
			sc, _, err := e.scope(t, "discord", chat)
			if err != nil {
				t.Fatalf("scope for %s: %v", chat, err)
			}
			if sc.ScopeID != guild || sc.UserID != userID(m) || sc.ChatType != tt.wantChatType {
				t.Errorf("scope = %+v, want scope_id %q user_id %q chat_type %q", sc, guild, userID(m), tt.wantChatType)
			}
			if guild != "" && (ev.Source.ScopeID != guild || ev.Source.GuildID != guild) {
				t.Errorf("source scope_id/guild_id = %q/%q, want %q", ev.Source.ScopeID, ev.Source.GuildID, guild)
			}
		})
	}
}

func TestInboundAndInterruptFrames(t *testing.T) {
	e := newEnv(t)
	e.startConverter(t, "a")
	e.publishRaw(t, []byte(`{"type":"inbound","bufferId":"b1","event":{"text":"hi there","message_type":"bogus","message_id":"m1","source":{"platform":"telegram","chat_id":"-100.5","chat_type":"group","user_id":"u7","guild_id":"g9"}}}`), "b1")
	e.publishRaw(t, []byte(`{"type":"interrupt_inbound","bufferId":"b2","session_key":"agent:main:telegram:group:-100.5:u7","chat_id":"-100.5"}`), "b2")
	e.publishRaw(t, []byte(`{"type":"brand_new_frame","x":1}`), "")
	got := e.readInbound(t, 2)
	// One chat: the message and the interrupt come out in the order stored.
	ev := got[0].event
	if got[0].subject != "relay.inbound.message.telegram.-100%2E5" {
		t.Errorf("subject = %q", got[0].subject)
	}
	if ev.MessageType != events.MessageText || ev.Source.ScopeID != "g9" || ev.Source.GuildID != "g9" {
		t.Errorf("event not normalized: %+v", ev)
	}
	if ev.SessionKey != "agent:main:telegram:group:-100.5:u7" {
		t.Errorf("session key = %q", ev.SessionKey)
	}
	if got[1].subject != "relay.inbound.interrupt.telegram.-100%2E5" {
		t.Errorf("interrupt subject = %q", got[1].subject)
	}
	var it events.Interrupt
	if err := events.Unmarshal(got[1].data, events.ContentTypeMsgpack, &it); err != nil {
		t.Fatal(err)
	}
	if it.SessionKey != "agent:main:telegram:group:-100.5:u7" || it.ChatID != "-100.5" {
		t.Errorf("interrupt = %+v", it)
	}
	e.dlq(t, 0)
}

// TestUnkeyedRawFrameIsConverted: a frame stored without its chat token
// (relay.raw.<type>: an older ws-edge, or published by hand) is consumed
// too, by the shared durable.
func TestUnkeyedRawFrameIsConverted(t *testing.T) {
	e := newEnv(t)
	e.startConverter(t, "a")
	m := nats.NewMsg(events.RawSubject(wire.FrameInbound))
	m.Data = []byte(`{"type":"inbound","event":{"text":"old style","source":{"platform":"slack","chat_id":"C1"}}}`)
	if _, err := e.js.PublishMsg(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	if got := e.readInbound(t, 1); got[0].subject != "relay.inbound.message.slack.C1" {
		t.Errorf("subject = %q", got[0].subject)
	}
}

func TestBadInputIsDeadLetteredAndFlowContinues(t *testing.T) {
	e := newEnv(t)
	e.startConverter(t, "a")
	good, _ := fixture(t, "02_slash_command_options.json")
	secretBody := []byte(`{"id":"1","type":99,"channel_id":"c1","token":"SECRET-TOKEN-VALUE"}`)
	bad := []struct {
		name, reason string
		frame        []byte
	}{
		{"bad base64", events.ReasonBadBase64, []byte(`{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":"eyJpZCI6!!"}}`)},
		{"body not json", events.ReasonBadBody, forwardFrame("discord", []byte("not json"), "")},
		{"unknown interaction type with token", "", forwardFrame("discord", secretBody, "")},
		{"unsupported platform", events.ReasonUnsupported, forwardFrame("slack", []byte(`{}`), "")},
		{"null event", events.ReasonNullField, []byte(`{"type":"inbound","event":null}`)},
	}
	for i, b := range bad {
		e.publishRaw(t, b.frame, "")
		e.publishRaw(t, forwardFrame("discord", good, ""), "good-"+strconv.Itoa(i))
	}
	got := e.readInbound(t, len(bad))
	for _, r := range got {
		if r.event.Text != "/cardsearch The Gitrog Monster" {
			t.Errorf("valid interleaved event text = %q", r.event.Text)
		}
	}
	dl := e.dlq(t, len(bad))
	// Workers run concurrently, so dead letters may be stored in any order:
	// compare the reasons as a multiset, and look for the token in all.
	var gotReasons, wantReasons []string
	for _, b := range bad {
		wantReasons = append(wantReasons, b.reason)
	}
	for _, m := range dl {
		if m.Header.Get(events.StageHeader) != events.StageConverter || m.Header.Get(events.ErrorHeader) == "" {
			t.Errorf("dead letter headers = %v", m.Header)
		}
		code := m.Header.Get(events.ErrorCodeHeader)
		if bytes.Contains(m.Data, []byte(`"type":99`)) || bytes.Contains(m.Data, []byte(base64.StdEncoding.EncodeToString(secretBody[:12]))) {
			code = "" // the unknown-type case: its reason is the adapter's to choose
		}
		gotReasons = append(gotReasons, code)
		if strings.Contains(string(m.Data), "SECRET-TOKEN-VALUE") || strings.Contains(string(m.Data), base64.StdEncoding.EncodeToString([]byte("SECRET-TOKEN-VALUE"))[:12]) {
			t.Errorf("dead letter still carries the interaction token: %s", m.Data)
		}
		if strings.Contains(m.Header.Get(events.ErrorHeader), "SECRET-TOKEN-VALUE") {
			t.Error("error header carries the token")
		}
	}
	slices.Sort(gotReasons)
	slices.Sort(wantReasons)
	if diff := cmp.Diff(wantReasons, gotReasons); diff != "" {
		t.Errorf("dead-letter reasons (-want +got):\n%s", diff)
	}
}

func TestScopeWrittenOnlyWhenChanged(t *testing.T) {
	e := newEnv(t)
	e.startConverter(t, "a")
	ev := func(i int, user string) []byte {
		return []byte(fmt.Sprintf(`{"type":"inbound","event":{"text":"m%d","message_id":"m%d","source":{"platform":"discord","chat_id":"c1","chat_type":"group","user_id":%q,"scope_id":"g1"}}}`, i, i, user))
	}
	for i := range 20 {
		e.publishRaw(t, ev(i, "u1"), "")
	}
	e.readInbound(t, 20)
	sc, rev1, err := e.scope(t, "discord", "c1")
	if err != nil || sc.ScopeID != "g1" || sc.UserID != "u1" {
		t.Fatalf("scope = %+v, %v", sc, err)
	}
	kv, _ := e.js.KeyValue(t.Context(), events.ScopeBucket)
	st, _ := kv.Status(t.Context())
	if st.Values() != 1 {
		t.Errorf("bucket holds %d values, want 1", st.Values())
	}
	e.publishRaw(t, ev(20, "u2"), "")
	natstest.WaitFor(t, 5*time.Second, func() error {
		sc, rev2, err := e.scope(t, "discord", "c1")
		if err != nil {
			return err
		}
		if sc.UserID != "u2" || rev2 == rev1 {
			return fmt.Errorf("scope not updated on author change: %+v rev %d", sc, rev2)
		}
		return nil
	})
	// 21 messages cost two writes: the stream behind the bucket has seen
	// exactly two.
	str, err := e.js.Stream(t.Context(), "KV_"+events.ScopeBucket)
	if err != nil {
		t.Fatal(err)
	}
	info, err := str.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.LastSeq != 2 {
		t.Errorf("scope writes = %d, want 2", info.State.LastSeq)
	}
}

func TestReplicaStoppedMidStreamLosesAndDuplicatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("streams a thousand frames through two replicas")
	}
	e := newEnv(t)
	stopA := e.startConverter(t, "a")
	e.startConverter(t, "b")
	const n = 1000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			f := fmt.Sprintf(`{"type":"inbound","bufferId":"b%d","event":{"text":"t","message_id":"m%d","source":{"platform":"discord","chat_id":"c%d","chat_type":"group","user_id":"u"}}}`, i, i, i%17)
			e.publishRaw(t, []byte(f), "b"+strconv.Itoa(i))
		}
	}()
	// Stop replica a once some events are out, while frames still flow.
	natstest.WaitFor(t, 10*time.Second, func() error {
		s, err := e.js.Stream(t.Context(), events.InboundStream)
		if err != nil {
			return err
		}
		i, err := s.Info(t.Context())
		if err != nil {
			return err
		}
		if i.State.Msgs < n/5 {
			return errors.New("not enough events yet")
		}
		return nil
	})
	stopA()
	wg.Wait()
	seen := map[string]int{}
	for _, r := range e.readInbound(t, n) {
		seen[r.event.MessageID]++
	}
	sent := make([]string, n)
	for i := range sent {
		sent[i] = "m" + strconv.Itoa(i)
	}
	natstest.Tally(t, "events", sent, seen)
}

// TestRedeliveryLongAfterItsEventStoresItOnce: a converter took a frame,
// stored its event and died before acking the frame. The frame comes back
// after the ack wait — here after RELAY_INBOUND's de-duplication window
// (1 s) has passed, as after a long outage, so the server would store a
// second copy. The converter finds the event already stored (the last on
// its chat's subject, under the frame's derived id) and acks the frame
// without storing another.
func TestRedeliveryLongAfterItsEventStoresItOnce(t *testing.T) {
	bc := bus.DefaultConfig()
	bc.Partitions = 0 // one shared durable, to play the dead replica on
	bc.InboundDuplicateWindow = time.Second
	e := newEnvBus(t, bc)
	cfg := converter.DefaultConfig()
	cfg.Bus = bc
	cfg.AckWait = time.Second

	// The replica that died: it pulled the frame, stored the event, never acked.
	dead, err := e.js.CreateOrUpdateConsumer(t.Context(), events.RawStream, jetstream.ConsumerConfig{
		Durable: cfg.Durable, FilterSubjects: []string{events.RawSubjects}, AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.publishRaw(t, []byte(`{"type":"inbound","bufferId":"b1","event":{"text":"hi","message_id":"m1","source":{"platform":"telegram","chat_id":"c1"}}}`), "b1")
	batch, err := dead.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for range batch.Messages() {
	}
	ev := events.MessageEvent{Text: "hi", MessageID: "m1", Source: events.SessionSource{Platform: "telegram", ChatID: "c1"}}
	data, err := events.Marshal(&ev, events.ContentTypeMsgpack)
	if err != nil {
		t.Fatal(err)
	}
	stored := nats.NewMsg(events.InboundMessageSubject("telegram", "c1"))
	stored.Data = data
	stored.Header.Set(events.ContentTypeHeader, events.ContentTypeMsgpack)
	stored.Header.Set(events.MsgIDHeader, "ev:b1") // the id the converter derives from the frame
	if _, err := e.js.PublishMsg(t.Context(), stored); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // past the window and the ack wait

	e.run(t, cfg, natstest.Logger(t))
	raw, err := e.js.Stream(t.Context(), events.RawStream)
	if err != nil {
		t.Fatal(err)
	}
	natstest.WaitFor(t, 10*time.Second, func() error {
		info, err := raw.Info(t.Context())
		if err != nil {
			return err
		}
		if info.State.Msgs != 0 {
			return fmt.Errorf("%d frames still in %s", info.State.Msgs, events.RawStream)
		}
		return nil
	})
	e.readInbound(t, 1) // the one stored before, and no second
	e.dlq(t, 0)
}
