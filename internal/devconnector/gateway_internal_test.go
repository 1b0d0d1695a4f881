package devconnector

import (
	"testing"
	"time"
)

// newTestConn returns an active, unattached socket whose queue the test reads.
func newTestConn(tb testing.TB, s *Server) *gwConn {
	tb.Helper()
	c := &gwConn{s: s, id: 1, out: make(chan outMsg, 64), notify: make(chan struct{}, 1), done: make(chan struct{}), writerDone: make(chan struct{})}
	s.mu.Lock()
	s.active = c
	s.mu.Unlock()
	return c
}

var frameTests = []struct {
	name          string
	line          string
	wantOut       int // messages queued for the gateway
	wantMalformed uint64
	wantUnknown   uint64
}{
	{"Hello", `{"type":"hello","platform":"discord","botId":"1"}`, 1, 0, 0},
	{"HelloNoPlatform", `{"type":"hello"}`, 1, 0, 0},
	{"Outbound", `{"type":"outbound","requestId":"r","action":{"op":"send","chat_id":"c","content":"x","reply_to":null,"metadata":{}}}`, 1, 0, 0},
	{"OutboundBadAction", `{"type":"outbound","requestId":"r","action":[1]}`, 1, 0, 0},
	{"OutboundNullAction", `{"type":"outbound","requestId":"r","action":null}`, 1, 0, 0},
	{"OutboundMetadataNotObject", `{"type":"outbound","requestId":"r","action":{"op":"send","metadata":7}}`, 1, 0, 0},
	{"OutboundNoRequestID", `{"type":"outbound","action":{"op":"send"}}`, 0, 1, 0},
	{"Interrupt", `{"type":"interrupt","session_key":"k","reason":null}`, 0, 0, 0},
	{"InterruptBadReason", `{"type":"interrupt","session_key":"k","reason":5}`, 0, 1, 0},
	{"GoingIdle", `{"type":"going_idle"}`, 1, 0, 0},
	{"Ack", `{"type":"inbound_ack","bufferId":"b-1"}`, 0, 0, 0},
	{"AckNoID", `{"type":"inbound_ack"}`, 0, 1, 0},
	{"Unknown", `{"type":"descriptor"}`, 0, 0, 1},
	{"NotJSON", `hello`, 0, 1, 0},
	{"Array", `[{"type":"hello"}]`, 0, 1, 0},
	{"TypeNotString", `{"type":{"a":1}}`, 0, 1, 0},
	{"Null", `null`, 0, 1, 0},
	{"Truncated", `{"type":"outbound","requestId":"r","action":{"op"`, 0, 1, 0},
	{"EscapedType", `{"type":"hel\u006co","platform":"te\"le"}`, 1, 0, 0},
	{"RequestIDNotString", `{"type":"outbound","requestId":5,"action":{"op":"send"}}`, 0, 1, 0},
	{"DuplicateTypeLastWins", `{"type":"hello","type":"going_idle"}`, 1, 0, 0},
	{"TrailingGarbage", `{"type":"hello"} x`, 0, 1, 0},
	{"DeepNesting", `{"type":"outbound","requestId":"r","action":{"op":"send","metadata":{"a":[[[[[[[[[[{}]]]]]]]]]]}}}`, 1, 0, 0},
}

func TestHandleFrame(t *testing.T) {
	for _, tt := range frameTests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(Config{})
			if err != nil {
				t.Fatal(err)
			}
			c := newTestConn(t, s)
			c.handleFrame([]byte(tt.line))
			if got := len(c.out); got != tt.wantOut {
				t.Errorf("queued %d messages, want %d", got, tt.wantOut)
			}
			st := s.State()
			if st.Malformed != tt.wantMalformed || st.UnknownFrames != tt.wantUnknown {
				t.Errorf("malformed=%d unknown=%d, want %d %d", st.Malformed, st.UnknownFrames, tt.wantMalformed, tt.wantUnknown)
			}
		})
	}
}

// FuzzHandleFrame checks that no gateway frame panics the reader or leaves
// more than one reply queued.
func FuzzHandleFrame(f *testing.F) {
	for _, tt := range frameTests {
		f.Add(tt.line)
	}
	s, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	s.Emit("inbound", map[string]any{"event": map[string]any{}})
	f.Fuzz(func(t *testing.T, line string) {
		c := newTestConn(t, s)
		c.handleFrame([]byte(line))
		if len(c.out) > 1 {
			t.Fatalf("%d replies queued for one frame", len(c.out))
		}
	})
}

func TestTokenVault(t *testing.T) {
	now := time.Unix(1000, 0)
	v := newTokenVault(3, time.Minute)
	v.put("s1", "i1", "t1", now)
	v.put("s1", "i2", "t2", now) // newest per session wins
	if e, ok, _ := v.lookup("s1", "", now); !ok || e.token != "t2" {
		t.Fatalf("lookup s1 = %v %v, want t2", e, ok)
	}
	if e, ok, _ := v.lookup("s1", "i1", now); !ok || e.token != "t1" {
		t.Fatalf("lookup by interaction i1 = %v %v, want t1", e, ok)
	}
	v.put("s2", "i3", "t3", now)
	v.put("s3", "i4", "t4", now) // evicts i1 (limit 3)
	if _, ok, _ := v.lookup("", "i1", now); ok {
		t.Error("i1 still vaulted past the limit")
	}
	if _, ok, _ := v.lookup("s1", "", now); !ok {
		t.Error("s1 (i2) evicted too early")
	}
	if _, ok, expired := v.lookup("s2", "", now.Add(time.Minute+time.Second)); !ok || !expired {
		t.Errorf("s2 after TTL: found=%v expired=%v, want true true", ok, expired)
	}
	v.put("s4", "i5", "t5", now.Add(3*time.Minute)) // sweeps everything older than 2×TTL
	if v.size() != 1 || len(v.bySession) != 1 || len(v.byInteraction) != 1 {
		t.Errorf("after sweep: size=%d sessions=%d interactions=%d, want 1 1 1", v.size(), len(v.bySession), len(v.byInteraction))
	}
}
