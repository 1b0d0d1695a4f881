package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"testing"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/redact"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
)

// TestDLQShowHoldsNoToken: what `relay dlq list` and `relay dlq show` print
// of dead letters written from token-bearing frames (through the one
// dead-letter writer, as every stage writes them) holds no token.
func TestDLQShowHoldsNoToken(t *testing.T) {
	const token = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDpTRUNSRVQtVE9LRU4tdmFsdWU"
	ns := natstest.RunServer(t)
	js := natstest.JetStream(t, natstest.Connect(t, ns))
	if err := bus.Ensure(t.Context(), js, bus.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	body := base64.StdEncoding.EncodeToString([]byte(`{"id":"1","type":2,"token":"` + token + `"}`))
	frames := []string{
		`{"type":"passthrough_forward","forward":{"platform":"Discord","bodyB64":"` + body + `"}}`,
		`{"type":"passthrough_forward","bufferId":7,"forward":{"platform":"discord","bodyB64":"` + body + `"}}`,
		`{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":"` + body + `"`, // cut
	}
	for i, f := range frames {
		cause := &events.FrameError{Reason: events.ReasonWrongType, Detail: "test"}
		if err := bus.DeadLetter(t.Context(), js, events.StageConverter, "relay.raw.passthrough_forward", []byte(f), nil, strconv.Itoa(i), cause); err != nil {
			t.Fatal(err)
		}
	}
	env := func(k string) string {
		if k == "NATS_URL" {
			return ns.ClientURL()
		}
		return ""
	}
	cli := func(args ...string) []byte {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := runDLQ(context.Background(), args, env, &out, &errOut); err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("relay dlq %v: %v (%s)", args, err, errOut.Bytes())
		}
		return out.Bytes()
	}
	if out := cli("list"); redact.Holds(out, token) || bytes.Count(out, []byte("\n")) != len(frames) {
		t.Errorf("relay dlq list = %s", out)
	}
	for seq := 1; seq <= len(frames); seq++ {
		out := cli("show", strconv.Itoa(seq))
		if redact.Holds(out, token) {
			t.Errorf("relay dlq show %d holds the token: %s", seq, out)
		}
		if !bytes.Contains(out, []byte(events.RedactedHeader)) {
			t.Errorf("relay dlq show %d does not say what was redacted: %s", seq, out)
		}
	}
}
