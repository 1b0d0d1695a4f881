package converter_test

import (
	"encoding/base64"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relaybus/relaybus/internal/redact"
	"github.com/relaybus/relaybus/internal/stage/stagetest"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/services/passthrough-converter/converter"
)

// interactionToken is the credential the connector should have vaulted; a
// forwarded body that still carries it must not put it in a dead letter.
const interactionToken = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDpTRUNSRVQtVE9LRU4tdmFsdWU"

// TestDeadLettersNeverHoldTheToken runs every converter dead-letter path
// with a token-bearing Discord body (issue #14: six of seven paths kept
// the token) and checks that the token is in no stored dead letter
// (payload or headers) and no log line, and that valid frames interleaved
// with them all arrive.
func TestDeadLettersNeverHoldTheToken(t *testing.T) {
	e := newEnv(t)
	var logs stagetest.Buffer
	cfg := converter.DefaultConfig()
	cfg.Workers = 4
	cfg.ShutdownTimeout = 5 * time.Second
	e.run(t, cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))

	body := []byte(`{"id":"99","application_id":"7","type":99,"channel_id":"c1","token":"` + interactionToken + `","data":{"name":"x"}}`)
	b64 := base64.StdEncoding.EncodeToString(body)
	fwd := func(platform, headers, bodyB64 string) []byte {
		return []byte(`{"type":"passthrough_forward","bufferId":"` + strconv.Itoa(len(bodyB64)) + platform + `","forward":{"platform":` + strconv.Quote(platform) +
			`,"botId":"bot1","method":"POST","path":"/interactions/discord/bot1","headers":` + headers + `,"bodyB64":` + strconv.Quote(bodyB64) + `}}`)
	}
	okHeaders := `[["content-type","application/json"]]`
	paths := []struct {
		name, reason string
		frame        []byte
	}{
		{"wrong headers type", events.ReasonWrongType, fwd("discord", `{"content-type":"application/json"}`, b64)},
		{"platform Discord", events.ReasonUnsupported, fwd("Discord", okHeaders, b64)},
		{"numeric bufferId", events.ReasonWrongType, []byte(`{"type":"passthrough_forward","bufferId":12345,"forward":{"platform":"discord","bodyB64":"` + b64 + `"}}`)},
		{"bad base64", events.ReasonBadBase64, fwd("discord", okHeaders, b64[:10]+"!"+b64[10:])},
		{"array body", events.ReasonBadBody, fwd("discord", okHeaders, base64.StdEncoding.EncodeToString([]byte("["+string(body)+"]")))},
		{"non-Discord platform", events.ReasonUnsupported, fwd("slack", okHeaders, b64)},
		{"Discord conversion failure", "", fwd("discord", okHeaders, b64)},
	}
	good, _ := fixture(t, "02_slash_command_options.json")
	for i, p := range paths {
		e.publishRaw(t, p.frame, "")
		e.publishRaw(t, forwardFrame("discord", good, ""), "good-"+strconv.Itoa(i))
	}
	if got := e.readInbound(t, len(paths)); len(got) != len(paths) {
		t.Fatalf("valid interleaved events = %d", len(got))
	}
	dl := e.dlq(t, len(paths))
	reasons := map[string]int{}
	for _, m := range dl {
		reasons[m.Header.Get(events.ErrorCodeHeader)]++
		if redact.Holds(m.Data, interactionToken) {
			t.Errorf("dead letter (%s) holds the token: %s", m.Header.Get(events.ErrorCodeHeader), m.Data)
		}
		for k, vs := range m.Header {
			for _, v := range vs {
				if redact.Holds([]byte(v), interactionToken) {
					t.Errorf("dead-letter header %s holds the token: %q", k, v)
				}
			}
		}
		if m.Header.Get(events.RedactedHeader) == "" {
			t.Errorf("dead letter (%s) does not say what was redacted: %v", m.Header.Get(events.ErrorCodeHeader), m.Header)
		}
		if !strings.Contains(string(m.Data), `"type":"passthrough_forward"`) {
			t.Errorf("dead letter lost its envelope: %s", m.Data)
		}
	}
	for _, p := range paths {
		if p.reason != "" && reasons[p.reason] == 0 {
			t.Errorf("no dead letter with reason %s (%s); got %v", p.reason, p.name, reasons)
		}
	}
	if redact.Holds(logs.Bytes(), interactionToken) {
		t.Errorf("the logs hold the token:\n%s", logs.Bytes())
	}
}

// TestCaseVariantKeysDeadLettered: keys that differ from the contract's
// only in case, inside an event or a forward (ws-edge checks only the
// envelope), are dead-lettered as ambiguous_key, and a valid frame after
// them is converted.
func TestCaseVariantKeysDeadLettered(t *testing.T) {
	e := newEnv(t)
	e.startConverter(t, "a")
	good, _ := fixture(t, "02_slash_command_options.json")
	e.publishRaw(t, []byte(`{"type":"inbound","event":{"text":"a","Text":"b","source":{"platform":"telegram","chat_id":"5"}}}`), "")
	e.publishRaw(t, []byte(`{"type":"passthrough_forward","forward":{"platform":"slack","Platform":"discord","bodyB64":"`+base64.StdEncoding.EncodeToString(good)+`"}}`), "")
	e.publishRaw(t, forwardFrame("discord", good, ""), "good")
	e.readInbound(t, 1)
	for _, m := range e.dlq(t, 2) {
		if got := m.Header.Get(events.ErrorCodeHeader); got != events.ReasonAmbiguousKey {
			t.Errorf("Relay-Error-Code = %q, want %s", got, events.ReasonAmbiguousKey)
		}
	}
}
