package devconnector_test

import (
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/relaybus/relaybus/internal/devconnector"
	"github.com/relaybus/relaybus/pkg/wire"
)

func TestGatewayFraming(t *testing.T) {
	const (
		hello = `{"type":"hello","platform":"discord","botId":"a"}`
		out1  = `{"type":"outbound","requestId":"r1","action":{"op":"typing","chat_id":"c"}}`
		out2  = `{"type":"outbound","requestId":"r2","action":{"op":"typing","chat_id":"c"}}`
	)
	type msg struct {
		binary bool
		text   string
	}
	tests := []struct {
		name          string
		messages      []msg
		want          []string // frame types answered, in order ("outbound_result:r1")
		wantMalformed uint64
	}{
		{"OneFramePerMessage", []msg{{text: hello + "\n"}, {text: out1 + "\n"}}, []string{"descriptor", "outbound_result:r1"}, 0},
		{"SeveralFramesInOneMessage", []msg{{text: hello + "\n" + out1 + "\n" + out2 + "\n"}}, []string{"descriptor", "outbound_result:r1", "outbound_result:r2"}, 0},
		{"FrameSplitAcrossMessages", []msg{{text: out1[:10]}, {text: out1[10:30]}, {text: out1[30:] + "\n" + out2[:5]}, {text: out2[5:] + "\n"}}, []string{"outbound_result:r1", "outbound_result:r2"}, 0},
		{"BlankLinesAndCRLF", []msg{{text: "\n\n  \n" + out1 + "\r\n\n"}, {text: "\n"}, {text: out2 + "\n"}}, []string{"outbound_result:r1", "outbound_result:r2"}, 0},
		{"BinaryReadAsText", []msg{{binary: true, text: out1 + "\n"}}, []string{"outbound_result:r1"}, 0},
		{"MalformedFramesSkipped", []msg{{text: "not json\n[1,2]\n{\"type\":5}\n{}\nnull\n{\"type\":\"inbound_ack\"}\n" + out1 + "\n"}, {text: "{\"type\":\"outbound\",\"action\":{}}\n" + out2 + "\n"}}, []string{"outbound_result:r1", "outbound_result:r2"}, 7},
		{"UnknownTypesIgnored", []msg{{text: `{"type":"descriptor","descriptor":{}}` + "\n" + `{"type":"future_thing"}` + "\n" + out1 + "\n"}}, []string{"outbound_result:r1"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, devconnector.Config{})
			g := dial(t, s, "")
			for _, m := range tt.messages {
				typ := websocket.TextMessage
				if m.binary {
					typ = websocket.BinaryMessage
				}
				g.sendMessage(typ, m.text)
			}
			for _, want := range tt.want {
				typ, reqID, _ := strings.Cut(want, ":")
				f := g.expect(typ)
				if f.RequestID != reqID {
					t.Errorf("%s requestId = %q, want %q", typ, f.RequestID, reqID)
				}
			}
			if got := s.State().Malformed; got != tt.wantMalformed {
				t.Errorf("malformed = %d, want %d", got, tt.wantMalformed)
			}
		})
	}
}

func TestWriterCoalesces(t *testing.T) {
	s := newServer(t, devconnector.Config{})
	const n = 500
	ids := emitN(t, s, n)
	g := connected(t, s)
	expectBuffered(t, g, ids...)
	if msgs := g.messages.Load(); msgs >= n || g.multi.Load() == 0 {
		t.Errorf("%d frames arrived in %d messages (%d multi-frame), want coalescing", n, msgs, g.multi.Load())
	}
}

func TestLargeFrameSurvives(t *testing.T) {
	s := newServer(t, devconnector.Config{})
	g := connected(t, s)
	big := strings.Repeat("x", 200<<10) // larger than one coalesced batch
	id := s.Emit(wire.FrameInbound, map[string]any{"event": map[string]any{"text": big}})
	small := s.Emit(wire.FrameInbound, map[string]any{"event": map[string]any{"text": "small"}})
	expectBuffered(t, g, id, small)
	// A big gateway frame split over many messages is reassembled.
	action := `{"op":"send","chat_id":"c","content":"` + big + `","reply_to":null,"metadata":{}}`
	frame := string(wire.AppendOutbound(nil, "big", []byte(action), "", ""))
	for i := 0; i < len(frame); i += 4096 {
		g.sendText(frame[i:min(i+4096, len(frame))])
	}
	f := g.expect(wire.FrameOutboundResult)
	if f.RequestID != "big" {
		t.Errorf("requestId = %q, want big", f.RequestID)
	}
	if recs := s.Outbound(); len(recs) != 1 || len(recs[0].Action.Content) != len(big) {
		t.Errorf("recorded content length wrong")
	}
}
