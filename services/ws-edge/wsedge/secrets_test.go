package wsedge_test

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/relaybus/relaybus/internal/redact"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/services/ws-edge/wsedge"
)

const interactionToken = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDpTRUNSRVQtVE9LRU4tdmFsdWU"

// TestBadFrameDeadLettersHoldNoToken: the frames ws-edge itself rejects
// (a numeric bufferId, not JSON, over the size limit) dead-letter without
// the interaction token of their forwarded body, and log nothing of it.
func TestBadFrameDeadLettersHoldNoToken(t *testing.T) {
	h, logs := startLogged(t, func(c *wsedge.Config) { c.MaxFrameBytes = 4096 })
	p := h.handshaken()
	body := `{"id":"99","type":2,"channel_id":"c1","token":"` + interactionToken + `","data":{"name":"x"}}`
	b64 := base64.StdEncoding.EncodeToString([]byte(body))
	frames := []string{
		`{"type":"passthrough_forward","bufferId":12345,"forward":{"platform":"discord","bodyB64":"` + b64 + `"}}`,
		`{"type":"passthrough_forward","bufferId":"b-nj","forward":{"platform":"discord","bodyB64":"` + b64 + `"}} trailing`,
		`{"type":"passthrough_forward","bufferId":"b-big","forward":{"platform":"discord","bodyB64":"` + b64 + `","pad":"` + strings.Repeat("x", 8000) + `"}}`,
	}
	for _, f := range frames {
		p.send(f, inboundFrame("", "after"))
	}
	h.streamMsgs(events.RawStream, rawInbound, len(frames))
	for _, dl := range h.streamMsgs(events.DLQStream, "", len(frames)) {
		if redact.Holds(dl.Data, interactionToken) {
			t.Errorf("dead letter (%s) holds the token: %s", dl.Header.Get(events.ErrorCodeHeader), dl.Data)
		}
		for k, vs := range dl.Header {
			for _, v := range vs {
				if redact.Holds([]byte(v), interactionToken) {
					t.Errorf("dead-letter header %s holds the token", k)
				}
			}
		}
		if dl.Header.Get(events.RedactedHeader) == "" {
			t.Errorf("dead letter (%s) does not say what was redacted", dl.Header.Get(events.ErrorCodeHeader))
		}
		if !bytes.HasPrefix(dl.Data, []byte(`{"type":"passthrough_forward","bufferId":`)) {
			t.Errorf("dead letter lost its envelope: %.200s", dl.Data)
		}
	}
	if redact.Holds(logs.Bytes(), interactionToken) {
		t.Errorf("the log holds the token")
	}
}
