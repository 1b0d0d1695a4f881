package egress

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/relaybus/relaybus/pkg/events"
)

// TestClassify is the classification table of one edge request: written
// or not, timeout, connection lost, declined (services/egress/README.md).
func TestClassify(t *testing.T) {
	tests := []struct {
		name      string
		reply     string
		err       error
		want      events.SendResult
		wantRetry string
		wantCause string // for ambiguous results
	}{
		{"NotConnectedNotWritten", `{"success":false,"error":"relay transport not connected"}`, nil,
			events.ResultNotConnected, retryNotConnected, ""},
		{"NoResponders", "", nats.ErrNoResponders,
			events.SendResult{Error: "no ws-edge is answering"}, retryNoResponders, ""},
		{"ConnectionLostAfterWrite", `{"success":false,"error":"relay transport connection lost","ambiguous":true}`, nil,
			events.ResultConnLost, "", causeConnLost},
		{"ConnectionLostWithoutFlag", `{"success":false,"error":"relay transport connection lost"}`, nil,
			events.ResultConnLost, "", causeConnLost},
		{"Timeout", `{"success":false,"error":"relay outbound timed out","ambiguous":true}`, nil,
			events.ResultTimedOut, "", causeTimeout},
		{"EdgeSilent", "", nats.ErrTimeout, resultEdgeSilent, "", causeEdgeSilent},
		{"EdgeConnectionClosed", "", nats.ErrConnectionClosed, resultEdgeSilent, "", causeEdgeSilent},
		{"EdgeOtherError", "", errors.New("boom"), resultEdgeSilent, "", causeEdgeSilent},
		{"Unreadable", `[1]`, nil, resultUnreadable, "", causeUnreadable},
		{"ConnectorAmbiguous", `{"success":false,"error":"platform timeout","ambiguous":true}`, nil,
			events.SendResult{Error: "platform timeout", Ambiguous: true}, "", causeConnector},
		{"Declined", `{"success":false,"code":"egress_declined","error":"Egress declined: no tenant"}`, nil,
			events.SendResult{Code: events.CodeEgressDeclined, Error: "Egress declined: no tenant"}, "", ""},
		{"Failed", `{"success":false,"error":"rate limited"}`, nil, events.SendResult{Error: "rate limited"}, "", ""},
		{"Success", `{"success":true,"message_id":123}`, nil, events.SendResult{Success: true, MessageID: "123"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, retry := classify([]byte(tt.reply), tt.err)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if retry != tt.wantRetry {
				t.Errorf("retry = %q, want %q", retry, tt.wantRetry)
			}
			if retry == "" && !got.Success && got.Ambiguous != (tt.wantCause != "") {
				t.Errorf("ambiguous = %v, want %v", got.Ambiguous, tt.wantCause != "")
			}
			if tt.wantCause != "" {
				if c := ambiguityCause(got); c != tt.wantCause {
					t.Errorf("cause = %q, want %q", c, tt.wantCause)
				}
			}
		})
	}
	if c := ambiguityCause(events.ResultInterrupted); c != causeInterrupted {
		t.Errorf("cause of the interrupted result = %q, want %q", c, causeInterrupted)
	}
}
