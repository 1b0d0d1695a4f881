package badinput_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/pkg/wire"
	"github.com/relaybus/relaybus/services/ws-edge/wsedge"
	"github.com/relaybus/relaybus/tests/internal/relaytest"
)

// maxFrame is ws-edge's WSEDGE_MAX_FRAME_BYTES in this test (small, so
// oversized frames stay cheap).
const maxFrame = 64 << 10

// itemHeader names each bad action, so that its dead letter (which keeps
// the action's headers) can be matched to it.
const itemHeader = "Test-Item"

// badFrame is one malformed connector frame and where and why it must be
// dead-lettered.
type badFrame struct {
	name string
	// push is sent verbatim (plus "\n") as one WebSocket message; emit, when
	// push is nil, is buffered by the connector (with a bufferId) as a
	// frame of type typ.
	push   []byte
	typ    string
	fields map[string]any
	// Where it must end up.
	stage, reason, field string
	// prefixOnly: the dead letter holds only the frame's first 4 KiB.
	prefixOnly bool
}

// badAction is one malformed action and the failed result it must get.
type badAction struct {
	name        string
	op          string // subject token
	contentType string
	data        []byte
	reason      string
	field       string
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// forward is a passthrough_forward's forward object for a Discord body.
func forward(platform any, body string) map[string]any {
	return map[string]any{
		"platform": platform, "botId": "290926444748734465", "method": "POST",
		"path":    "/interactions/discord/290926444748734465",
		"headers": [][2]string{{"content-type", "application/json"}},
		"bodyB64": b64(body),
	}
}

func frameCorpus(t *testing.T) []badFrame {
	t.Helper()
	big := `{"type":"inbound","note":"over-limit","event":{"text":"` + strings.Repeat("x", maxFrame) + `"}}`
	fuzzFrame := fuzzInput(t, "../../pkg/wire/testdata/fuzz/FuzzDecodeFrame/nbsp_before_object")
	splitter := fuzzInput(t, "../../services/ws-edge/internal/ndjson/testdata/fuzz/FuzzSplitter/e43f830030ff9bb3")
	// The splitter finding is a blank line longer than the limit: it must be
	// reported as oversized, not skipped like a short blank line.
	blank := bytes.Repeat(bytes.TrimRight(splitter, "\n")[:1], maxFrame+1)
	ev := func(text any, extra ...any) map[string]any {
		e := map[string]any{"text": text, "source": map[string]any{"platform": "discord", "chat_id": "c-bad", "chat_type": "group"}}
		for i := 0; i+1 < len(extra); i += 2 {
			e[extra[i].(string)] = extra[i+1]
		}
		return map[string]any{"event": e}
	}
	fwd := func(f map[string]any) map[string]any { return map[string]any{"forward": f} }
	withKey := func(m map[string]any, k string, v any) map[string]any { m[k] = v; return m }
	without := func(m map[string]any, k string) map[string]any { delete(m, k); return m }
	return []badFrame{
		// The envelope: rejected by ws-edge, the read loop going on.
		{name: "not JSON", push: []byte(`this is not json (bad 1)`), stage: events.StageWSEdge, reason: events.ReasonNotJSON},
		{name: "truncated JSON", push: []byte(`{"type":"inbound","event":{"text":"bad 2"`), stage: events.StageWSEdge, reason: events.ReasonNotJSON},
		{name: "array", push: []byte(`["bad 3"]`), stage: events.StageWSEdge, reason: events.ReasonNotObject},
		{name: "string", push: []byte(`"bad 4"`), stage: events.StageWSEdge, reason: events.ReasonNotObject},
		{name: "number", push: []byte(`4242`), stage: events.StageWSEdge, reason: events.ReasonNotObject},
		{name: "no type", push: []byte(`{"note":"bad 6"}`), stage: events.StageWSEdge, reason: events.ReasonMissingType, field: "type"},
		{name: "empty type", push: []byte(`{"type":"","note":"bad 7"}`), stage: events.StageWSEdge, reason: events.ReasonMissingType, field: "type"},
		{name: "type is a number", push: []byte(`{"type":7,"note":"bad 8"}`), stage: events.StageWSEdge, reason: events.ReasonWrongType, field: "type"},
		{name: "bufferId is a number", push: []byte(`{"type":"inbound","bufferId":5,"event":{"text":"bad 9"}}`), stage: events.StageWSEdge, reason: events.ReasonWrongType, field: "bufferId"},
		{name: "null event", push: []byte(`{"type":"inbound","event":null,"note":"bad 10"}`), stage: events.StageWSEdge, reason: events.ReasonNullField, field: "event"},
		{name: "null forward", push: []byte(`{"type":"passthrough_forward","forward":null,"note":"bad 11"}`), stage: events.StageWSEdge, reason: events.ReasonNullField, field: "forward"},
		{name: "event is a string", push: []byte(`{"type":"inbound","event":"bad 12"}`), stage: events.StageWSEdge, reason: events.ReasonWrongType, field: "event"},
		{name: "forward is an array", push: []byte(`{"type":"passthrough_forward","forward":["bad 13"]}`), stage: events.StageWSEdge, reason: events.ReasonWrongType, field: "forward"},
		{name: "no event", push: []byte(`{"type":"inbound","note":"bad 14"}`), stage: events.StageWSEdge, reason: events.ReasonMissingField, field: "event"},
		{name: "interrupt without session_key", push: []byte(`{"type":"interrupt_inbound","chat_id":"bad 15"}`), stage: events.StageWSEdge, reason: events.ReasonMissingField, field: "session_key"},
		{name: "deep nesting", push: []byte(`{"type":"inbound","note":"bad 16","event":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`), stage: events.StageWSEdge, reason: events.ReasonNotJSON},
		{name: "oversized", push: []byte(big), stage: events.StageWSEdge, reason: events.ReasonOversized, prefixOnly: true},
		{name: "fuzz FuzzDecodeFrame/nbsp_before_object", push: fuzzFrame, stage: events.StageWSEdge, reason: events.ReasonNotJSON},
		{name: "fuzz FuzzSplitter/e43f830030ff9bb3 (blank line over the limit)", push: blank, stage: events.StageWSEdge, reason: events.ReasonOversized, prefixOnly: true},
		// Buffered bad envelopes: dead-lettered, then acked (no endless replay).
		{name: "buffered null event", typ: wire.FrameInbound, fields: map[string]any{"event": nil, "note": "bad 20"}, stage: events.StageWSEdge, reason: events.ReasonNullField, field: "event"},
		{name: "buffered interrupt without session_key", typ: wire.FrameInterruptInbound, fields: map[string]any{"chat_id": "bad 21"}, stage: events.StageWSEdge, reason: events.ReasonMissingField, field: "session_key"},

		// The payload: stored raw by ws-edge, rejected by the converter.
		{name: "invalid base64", typ: wire.FramePassthroughForward, fields: fwd(withKey(forward("discord", ""), "bodyB64", "!!!not base64 (bad 30)")), stage: events.StageConverter, reason: events.ReasonBadBase64, field: "forward.bodyB64"},
		{name: "base64 with a line break", typ: wire.FramePassthroughForward, fields: fwd(withKey(forward("discord", ""), "bodyB64", "eyJ0eXBlIjoyfQ==\n")), stage: events.StageConverter, reason: events.ReasonBadBase64, field: "forward.bodyB64"},
		{name: "non-JSON body", typ: wire.FramePassthroughForward, fields: fwd(forward("discord", "not json (bad 32)")), stage: events.StageConverter, reason: events.ReasonBadBody},
		{name: "array body", typ: wire.FramePassthroughForward, fields: fwd(forward("discord", `["bad 33"]`)), stage: events.StageConverter, reason: events.ReasonBadBody},
		{name: "interaction type is a string", typ: wire.FramePassthroughForward, fields: fwd(forward("discord", `{"type":"two","id":"bad34","channel_id":"c"}`)), stage: events.StageConverter, reason: events.ReasonWrongType, field: "type"},
		{name: "unknown interaction type", typ: wire.FramePassthroughForward, fields: fwd(forward("discord", `{"type":99,"id":"bad35","channel_id":"c"}`)), stage: events.StageConverter, reason: events.ReasonUnsupported, field: "type"},
		{name: "interaction without id", typ: wire.FramePassthroughForward, fields: fwd(forward("discord", `{"type":2,"channel_id":"c","note":"bad 36"}`)), stage: events.StageConverter, reason: events.ReasonMissingField, field: "id"},
		{name: "interaction without channel", typ: wire.FramePassthroughForward, fields: fwd(forward("discord", `{"type":2,"id":"bad37"}`)), stage: events.StageConverter, reason: events.ReasonMissingField, field: "channel_id"},
		{name: "unsupported platform", typ: wire.FramePassthroughForward, fields: fwd(forward("myspace", `{"note":"bad 38"}`)), stage: events.StageConverter, reason: events.ReasonUnsupported, field: "forward.platform"},
		{name: "platform is a number", typ: wire.FramePassthroughForward, fields: fwd(forward(5, `{"note":"bad 39"}`)), stage: events.StageConverter, reason: events.ReasonWrongType, field: "forward.platform"},
		{name: "forward without platform", typ: wire.FramePassthroughForward, fields: fwd(without(forward("discord", `{"note":"bad 40"}`), "platform")), stage: events.StageConverter, reason: events.ReasonMissingField, field: "forward.platform"},
		{name: "forward without bodyB64", typ: wire.FramePassthroughForward, fields: fwd(without(forward("discord", ""), "bodyB64")), stage: events.StageConverter, reason: events.ReasonMissingField, field: "forward.bodyB64"},
		{name: "twilio body without From", typ: wire.FramePassthroughForward, fields: fwd(withKey(forward("twilio", ""), "bodyB64", b64("Body=bad+42&MessageSid=SM1"))), stage: events.StageConverter, reason: events.ReasonMissingField, field: "From"},
		{name: "twilio NumMedia not a number", typ: wire.FramePassthroughForward, fields: fwd(withKey(forward("twilio", ""), "bodyB64", b64("From=%2B1&MessageSid=SM43&NumMedia=many"))), stage: events.StageConverter, reason: events.ReasonWrongType, field: "NumMedia"},
		{name: "twilio body not a form", typ: wire.FramePassthroughForward, fields: fwd(withKey(forward("twilio", ""), "bodyB64", b64("From=%zz&bad=44"))), stage: events.StageConverter, reason: events.ReasonBadBody},
		{name: "event text is a number", typ: wire.FrameInbound, fields: ev(45), stage: events.StageConverter, reason: events.ReasonWrongType, field: "event.text"},
		{name: "event source is a string", typ: wire.FrameInbound, fields: ev("bad 46", "source", "discord"), stage: events.StageConverter, reason: events.ReasonWrongType, field: "event.source"},
		{name: "event media_urls is an object", typ: wire.FrameInbound, fields: ev("bad 47", "media_urls", map[string]any{"a": 1}), stage: events.StageConverter, reason: events.ReasonWrongType, field: "event.media_urls"},
	}
}

// benignFrames are unusual but valid: they must be taken without a dead
// letter and without an event (an unknown frame type, even one that is not
// subject-safe or is longer than a subject may be, is not an error,
// contract §1; a PING or autocomplete yields no agent turn; a short blank
// line is skipped).
func benignFrames(t *testing.T) [][]byte {
	t.Helper()
	splitter := fuzzInput(t, "../../services/ws-edge/internal/ndjson/testdata/fuzz/FuzzSplitter/e43f830030ff9bb3")
	ping, _ := json.Marshal(map[string]any{"type": "passthrough_forward", "forward": forward("discord", `{"type":1,"id":"p1","application_id":"1"}`)})
	auto, _ := json.Marshal(map[string]any{"type": "passthrough_forward", "forward": forward("discord", `{"type":4,"id":"a1","channel_id":"c","data":{"name":"x"}}`)})
	return [][]byte{
		[]byte(`{"type":"future_frame_type","note":"newer connectors may add types"}`),
		[]byte(`{"type":"we.ird >*type","note":"not subject-safe"}`),
		[]byte(`{"type":"` + strings.Repeat("t", 5000) + `","note":"a type longer than a subject may be"}`),
		bytes.TrimRight(splitter, "\n"),
		ping,
		auto,
	}
}

func actionCorpus(t *testing.T) []badAction {
	t.Helper()
	j := events.ContentTypeJSON
	mp := events.ContentTypeMsgpack
	arr, err := events.Marshal([]string{"bad k"}, mp)
	if err != nil {
		t.Fatal(err)
	}
	return []badAction{
		{name: "missing chat_id", op: "send", contentType: j, data: []byte(`{"content":"bad a","reply_to":null}`), reason: events.ReasonMissingField, field: "chat_id"},
		{name: "chat_id is a number", op: "send", contentType: j, data: []byte(`{"chat_id":5,"content":"bad b"}`), reason: events.ReasonWrongType, field: "chat_id"},
		{name: "unknown op on relay.outbound.bogus", op: "bogus", contentType: j, data: []byte(`{"chat_id":"c","content":"bad c"}`), reason: events.ReasonUnknownOp, field: "op"},
		{name: "undecodable msgpack", op: "send", contentType: mp, data: []byte{0xc1, 'b', 'a', 'd', ' ', 'd'}, reason: events.ReasonBadEncoding},
		{name: "JSON array", op: "send", contentType: j, data: []byte(`["bad e"]`), reason: events.ReasonNotObject},
		{name: "fuzz FuzzDecodeAction/msgpack_huge_interface_array", op: "send", contentType: mp, data: fuzzInput(t, "../../pkg/events/testdata/fuzz/FuzzDecodeAction/msgpack_huge_interface_array"), reason: events.ReasonBadEncoding},
		{name: "fuzz FuzzUnmarshalEventMsgpack/msgpack_huge_struct_slice", op: "send", contentType: mp, data: fuzzInput(t, "../../pkg/events/testdata/fuzz/FuzzUnmarshalEventMsgpack/msgpack_huge_struct_slice"), reason: events.ReasonBadEncoding},
		{name: "not JSON", op: "send", contentType: j, data: []byte(`not json (bad h)`), reason: events.ReasonNotJSON},
		{name: "op differs from the subject", op: "send", contentType: j, data: []byte(`{"op":"edit","chat_id":"c","message_id":"m","content":"bad i"}`), reason: events.ReasonWrongType, field: "op"},
		{name: "unsupported content type", op: "send", contentType: "text/plain", data: []byte(`bad j`), reason: events.ReasonBadEncoding, field: events.ContentTypeHeader},
		{name: "msgpack array", op: "send", contentType: mp, data: arr, reason: events.ReasonNotObject},
		{name: "follow_up without session_key", op: "follow_up", contentType: j, data: []byte(`{"content":"bad l"}`), reason: events.ReasonMissingField, field: "session_key"},
		{name: "metadata is a string", op: "send", contentType: j, data: []byte(`{"chat_id":"c","content":"bad m","metadata":"x"}`), reason: events.ReasonWrongType, field: "metadata"},
		{name: "empty msgpack payload", op: "send", contentType: mp, data: nil, reason: events.ReasonBadEncoding},
		{name: "react without emoji", op: "react", contentType: j, data: []byte(`{"chat_id":"c","message_id":"m","note":"bad o"}`), reason: events.ReasonMissingField, field: "emoji"},
		{name: "edit with content a number", op: "edit", contentType: j, data: []byte(`{"chat_id":"c","message_id":"m","content":16}`), reason: events.ReasonWrongType, field: "content"},
	}
}

// fuzzInput reads the first []byte value of a Go fuzz corpus file.
func fuzzInput(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.FromSlash(path))
	if err != nil {
		t.Fatalf("fuzz corpus: %v", err)
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "[]byte("); ok {
			s, err := strconv.Unquote(strings.TrimSuffix(v, ")"))
			if err != nil {
				t.Fatalf("fuzz corpus %s: %v", path, err)
			}
			return []byte(s)
		}
	}
	t.Fatalf("fuzz corpus %s: no []byte value", path)
	return nil
}

// TestBadInputCampaign runs the whole pipeline in-process and throws a
// corpus of malformed connector frames and agent actions at it, interleaved
// with valid traffic. Every bad item must be dead-lettered once on
// RELAY_DLQ by the stage that can tell, with its reason in
// Relay-Error-Code; every bad action must get a failed SendResult naming
// the field; valid traffic must arrive exactly once; no stage may crash,
// panic or drop the connector socket.
func TestBadInputCampaign(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pipeline for several seconds")
	}
	frames := frameCorpus(t)
	actions := actionCorpus(t)
	benign := benignFrames(t)

	p := startPipeline(t, func(c *wsedge.Config) { c.MaxFrameBytes = maxFrame })
	dev, js, agent, results := p.dev, p.js, p.agent, p.res
	edge, conv, eg := p.edge, p.conv, p.eg

	// Valid traffic, both ways, while the bad items go in.
	const nEvents, nActions = 600, 300
	good := relaytest.Produce(t, dev, "good", nEvents, time.Millisecond)
	goodActions := relaytest.PublishActions(t, js, "good-act", nActions, 2*time.Millisecond)

	bufferIDs := map[string]int{} // bufferId -> frame index
	for i, f := range frames {
		good.WaitSent(t, (i+1)*nEvents/(len(frames)+len(benign)+1), time.Minute)
		if f.push != nil {
			if err := dev.Push(append(append([]byte(nil), f.push...), '\n')); err != nil {
				t.Fatalf("pushing %q: %v", f.name, err)
			}
			continue
		}
		id, err := dev.EmitContext(context.Background(), f.typ, f.fields)
		if err != nil {
			t.Fatalf("emitting %q: %v", f.name, err)
		}
		bufferIDs[id] = i
	}
	for _, f := range benign {
		if err := dev.Push(append(append([]byte(nil), f...), '\n')); err != nil {
			t.Fatalf("pushing a benign frame: %v", err)
		}
	}
	for i, a := range actions {
		goodActions.WaitSent(t, (i+1)*nActions/(len(actions)+1), time.Minute)
		m := nats.NewMsg(events.OutboundSubject(a.op))
		m.Data = a.data
		m.Header.Set(events.ContentTypeHeader, a.contentType)
		m.Header.Set(events.MsgIDHeader, badActionID(i))
		m.Header.Set(itemHeader, strconv.Itoa(i))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := js.PublishMsg(ctx, m)
		cancel()
		if err != nil {
			t.Fatalf("publishing %q: %v", a.name, err)
		}
	}

	ids := good.Wait(t, time.Minute)
	actionIDs := goodActions.Wait(t, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := dev.WaitDrained(ctx); err != nil {
		t.Fatalf("connector still holds un-acked frames %v: %v", dev.BufferedIDs(), err)
	}
	agent.WaitDistinct(t, len(ids), 60*time.Second)
	relaytest.WaitStreamEmpty(t, js, events.RawStream, 60*time.Second)
	relaytest.WaitStreamEmpty(t, js, events.OutboundStream, 60*time.Second)
	natstest.WaitFor(t, 60*time.Second, func() error {
		if got := results.Len(); got < len(actionIDs)+len(actions) {
			return fmt.Errorf("results for %d actions, want %d", got, len(actionIDs)+len(actions))
		}
		n, err := relaytest.StreamMsgs(t, js, events.DLQStream)
		if err != nil {
			return err
		}
		if int(n) < len(frames)+len(actions) {
			return fmt.Errorf("%d dead letters, want %d", n, len(frames)+len(actions))
		}
		return nil
	})

	// Valid traffic: exactly once.
	natstest.Tally(t, "valid events stored", ids, relaytest.StoredEvents(t, js))
	natstest.Tally(t, "valid events seen by the agent", ids, agent.Counts())
	sends, _ := relaytest.Sends(dev)
	natstest.Tally(t, "valid sends", actionIDs, sends)
	for _, id := range actionIDs {
		if rs := results.Get(id); len(rs) != 1 || !rs[0].Success {
			t.Errorf("results of valid action %s = %+v, want one success", id, rs)
		}
	}

	// Every bad item dead-lettered exactly once, where and why expected.
	frameHits := make([]int, len(frames))
	actionHits := make([]int, len(actions))
	gotReasons, wantReasons := map[string]int{}, map[string]int{}
	for _, f := range frames {
		wantReasons[f.stage+"/"+f.reason]++
	}
	for _, a := range actions {
		wantReasons[events.StageEgress+"/"+a.reason]++
	}
	relaytest.Scan(t, js, events.DLQStream, events.DLQSubjects, func(m jetstream.Msg) {
		h := m.Headers()
		stage, reason, why := h.Get(events.StageHeader), h.Get(events.ErrorCodeHeader), h.Get(events.ErrorHeader)
		gotReasons[stage+"/"+reason]++
		check := func(what, wantStage, wantReason, wantField string) {
			if stage != wantStage || reason != wantReason || m.Subject() != events.DLQSubject(wantStage) {
				t.Errorf("%s: dead-lettered on %s by %q with reason %q (%s), want %s by %q with %q",
					what, m.Subject(), stage, reason, why, events.DLQSubject(wantStage), wantStage, wantReason)
			}
			if wantField != "" && !strings.Contains(why, "("+wantField+")") {
				t.Errorf("%s: Relay-Error = %q, want it to name (%s)", what, why, wantField)
			}
		}
		if v := h.Get(itemHeader); v != "" {
			i, _ := strconv.Atoi(v)
			a := actions[i]
			actionHits[i]++
			check("action "+a.name, events.StageEgress, a.reason, a.field)
			if !bytes.Equal(m.Data(), a.data) {
				t.Errorf("action %s: dead letter holds %q, want the original %q", a.name, m.Data(), a.data)
			}
			return
		}
		if i, ok := bufferIDs[h.Get(events.BufferIDHeader)]; ok {
			frameHits[i]++
			check("frame "+frames[i].name, frames[i].stage, frames[i].reason, frames[i].field)
			return
		}
		for i, f := range frames {
			if f.push == nil {
				continue
			}
			want := f.push
			if f.prefixOnly {
				want = want[:4096]
			}
			if bytes.Equal(m.Data(), want) {
				frameHits[i]++
				check("frame "+f.name, f.stage, f.reason, f.field)
				return
			}
		}
		t.Errorf("unexpected dead letter on %s (%s, %s): %.200q", m.Subject(), reason, why, m.Data())
	})
	for i, n := range frameHits {
		if n != 1 {
			t.Errorf("frame %q dead-lettered %d times, want 1", frames[i].name, n)
		}
	}
	for i, n := range actionHits {
		if n != 1 {
			t.Errorf("action %q dead-lettered %d times, want 1", actions[i].name, n)
		}
	}
	t.Logf("bad items: %d frames, %d actions; dead letters by stage/reason: %s", len(frames), len(actions), reasons(gotReasons))
	if diff := cmp.Diff(wantReasons, gotReasons); diff != "" {
		t.Errorf("dead letters by stage/reason (-want +got):\n%s", diff)
	}

	// Every bad action answered with a failed result naming the field.
	for i, a := range actions {
		rs := results.Get(badActionID(i))
		if len(rs) != 1 {
			t.Errorf("action %s: %d results, want 1: %+v", a.name, len(rs), rs)
			continue
		}
		r := rs[0]
		if r.Success || r.Code != a.reason || (a.field != "" && !strings.Contains(r.Error, "("+a.field+")")) {
			t.Errorf("action %s: result %+v, want success=false, code %q, an error naming (%s)", a.name, r, a.reason, a.field)
		}
	}

	// Nothing crashed: the stages are live and ready, no handler panicked,
	// and the connector socket was never dropped.
	relaytest.CheckLive(t, edge, conv, eg)
	for name, v := range map[string]float64{
		"converter": conv.Metric(t, "relay_consume_panics_total"),
		"egress":    eg.Metric(t, "relay_consume_panics_total"),
	} {
		if v != 0 {
			t.Errorf("%s: %v handler panics, want 0", name, v)
		}
	}
	if st := dev.State(); st.Connections != 1 || !st.Connected {
		t.Errorf("connector state %+v: want the one socket still up (bad input must not drop it)", st)
	}
	t.Logf("ws-edge bad frames by reason: not_json %v, not_object %v, oversized %v; connector acks for unknown bufferIds %d",
		edge.Metric(t, "relay_wsedge_bad_frames_total", "reason", "not_json"),
		edge.Metric(t, "relay_wsedge_bad_frames_total", "reason", "not_object"),
		edge.Metric(t, "relay_wsedge_bad_frames_total", "reason", "oversized"), dev.State().UnknownAcks)
}

func badActionID(i int) string { return fmt.Sprintf("bad-act-%02d", i) }

func reasons(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%d ", k, m[k])
	}
	return strings.TrimSpace(b.String())
}
