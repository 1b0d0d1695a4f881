package devconnector_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/relaybus/relaybus/internal/devconnector"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/wire"
)

func TestInteractionForwarded(t *testing.T) {
	tests := []struct {
		name           string
		query          string
		body           string
		wantBotID      string
		wantProfile    string
		wantSessionKey string
	}{
		{
			name:           "GuildSlashCommand",
			query:          "?bot_id=app1",
			body:           `{"id":"i1","application_id":"app9","type":2,"token":"SECRET-TOKEN","guild_id":"g1","channel_id":"c1","member":{"user":{"id":"u1"},"nick":"Bob"},"data":{"name":"new"}}`,
			wantBotID:      "app1",
			wantSessionKey: "agent:main:discord:group:c1:u1",
		},
		{
			name:           "DMUsesTopLevelUserAndApplicationID",
			body:           `{"id":"i2","application_id":"app9","type":2,"token":"T2","channel":{"id":"dm5","type":1},"user":{"id":"u2"},"data":{"name":"model"}}`,
			wantBotID:      "app9",
			wantSessionKey: "agent:main:discord:dm:dm5",
		},
		{
			name:           "ThreadWithProfile",
			query:          "?bot_id=app1&profile=coder",
			body:           `{"id":"i3","type":3,"token":"T3","guild_id":"g1","channel_id":"th1","channel":{"id":"th1","type":11,"parent_id":"c1"},"member":{"user":{"id":"u1"}},"data":{"custom_id":"x"}}`,
			wantBotID:      "app1",
			wantProfile:    "coder",
			wantSessionKey: "agent:coder:discord:thread:th1:th1",
		},
		{
			name:           "NumericIDs",
			query:          "?bot_id=app1&profile=main",
			body:           `{"id":17,"type":2,"token":"T4","guild_id":5,"channel_id":6,"member":{"user":{"id":7}},"data":{"name":"x"}}`,
			wantBotID:      "app1",
			wantProfile:    "main",
			wantSessionKey: "agent:main~:discord:group:6:7",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			s := newServer(t, devconnector.Config{Now: clock.Now})
			g := connected(t, s)
			status, resp := post(t, s, "/interactions"+tt.query, "application/json", tt.body)
			if status != http.StatusAccepted {
				t.Fatalf("POST /interactions = %d %v, want 202", status, resp)
			}
			var in map[string]any
			if err := json.Unmarshal([]byte(tt.body), &in); err != nil {
				t.Fatal(err)
			}
			wantResp := map[string]any{"forwarded": true, "bufferId": "b-1", "interaction_id": scalarString(in["id"]), "session_key": tt.wantSessionKey, "acked": "deferred"}
			if diff := cmp.Diff(wantResp, resp); diff != "" {
				t.Errorf("response mismatch (-want +got):\n%s", diff)
			}

			f := g.expect(wire.FramePassthroughForward)
			if f.BufferID != "b-1" {
				t.Errorf("bufferId = %q, want b-1", f.BufferID)
			}
			fw, err := wire.DecodeForward(f.Forward)
			if err != nil {
				t.Fatalf("DecodeForward: %v", err)
			}
			body, err := fw.Body()
			if err != nil {
				t.Fatalf("Body: %v", err)
			}
			wantFw := wire.PassthroughForward{
				Platform: "discord", BotID: tt.wantBotID, Method: "POST",
				Path:    "/interactions/discord/" + tt.wantBotID,
				Headers: [][2]string{{"content-type", "application/json"}, {"x-signature-timestamp", strconv.FormatInt(clock.Now().Unix(), 10)}},
				BodyB64: fw.BodyB64, Profile: tt.wantProfile,
			}
			if diff := cmp.Diff(wantFw, fw); diff != "" {
				t.Errorf("forward mismatch (-want +got):\n%s", diff)
			}
			var gotBody map[string]any
			if err := json.Unmarshal(body, &gotBody); err != nil {
				t.Fatalf("forwarded body %q: %v", body, err)
			}
			delete(in, "token")
			if diff := cmp.Diff(in, gotBody); diff != "" {
				t.Errorf("forwarded body mismatch, want the interaction without token (-want +got):\n%s", diff)
			}

			// The vault answers follow_up for the computed session key.
			r := g.outbound("r1", events.Action{Op: events.OpFollowUp, SessionKey: tt.wantSessionKey, Kind: events.FollowUpKindDiscord, Content: "done"}, "discord")
			if r["success"] != true {
				t.Errorf("follow_up result = %v, want success", r)
			}
			if st := s.State(); st.Vaulted != 1 {
				t.Errorf("vaulted = %d, want 1", st.Vaulted)
			}
		})
	}
}

func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

func TestInteractionPingAnsweredInline(t *testing.T) {
	s := newServer(t, devconnector.Config{})
	g := connected(t, s)
	status, resp := post(t, s, "/interactions", "application/json", `{"id":"p1","type":1,"token":"PING-TOKEN","application_id":"app1"}`)
	if status != http.StatusOK || len(resp) != 1 || resp["type"] != 1.0 {
		t.Fatalf("PING = %d %v, want 200 {\"type\":1}", status, resp)
	}
	// The next frame is what comes after the PING: it was not forwarded.
	_, resp = post(t, s, "/inbound", "application/json", `{"text":"after"}`)
	f := g.expect(wire.FrameInbound)
	if f.BufferID != resp["bufferId"] {
		t.Errorf("next frame bufferId = %q, want %v (the PING must not be forwarded)", f.BufferID, resp["bufferId"])
	}
	if st := s.State(); st.Pings != 1 || st.Vaulted != 0 {
		t.Errorf("pings=%d vaulted=%d, want 1 0", st.Pings, st.Vaulted)
	}
}

func TestInteractionBadBody(t *testing.T) {
	s := newServer(t, devconnector.Config{})
	for _, body := range []string{"", "not json", "[1,2]", "null", `"x"`, `{"id":`} {
		status, resp := post(t, s, "/interactions", "application/json", body)
		if status != http.StatusBadRequest {
			t.Errorf("POST /interactions %q = %d %v, want 400", body, status, resp)
		}
	}
	if n := s.Buffered(); n != 0 {
		t.Errorf("Buffered() = %d, want 0", n)
	}
}

func TestForwardInteraction(t *testing.T) {
	s := newServer(t, devconnector.Config{ReplayLimit: 1})
	g := connected(t, s)
	body := "{ \"id\": \"i1\", \"type\": 3,\n \"channel_id\": \"d1\", \"user\": {\"id\": \"u1\"} }"
	fwd, err := s.ForwardInteraction(t.Context(), []byte(body), devconnector.InteractionOptions{BotID: "app1"})
	if err != nil {
		t.Fatal(err)
	}
	want := devconnector.Forwarded{BufferID: "b-1", InteractionID: "i1", SessionKey: "agent:main:discord:dm:d1"}
	if diff := cmp.Diff(want, fwd); diff != "" {
		t.Errorf("Forwarded mismatch (-want +got):\n%s", diff)
	}
	fw, err := wire.DecodeForward(g.expect(wire.FramePassthroughForward).Forward)
	if err != nil {
		t.Fatal(err)
	}
	// Without a token the body travels byte for byte.
	if got, _ := fw.Body(); string(got) != body {
		t.Errorf("body = %q, want %q", got, body)
	}

	// A full buffer makes ForwardInteraction wait for an ack.
	done := make(chan error, 1)
	go func() {
		_, err := s.ForwardInteraction(t.Context(), []byte(`{"id":"i2","type":2,"token":"T"}`), devconnector.InteractionOptions{})
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("ForwardInteraction returned %v with a full buffer", err)
	case <-time.After(20 * time.Millisecond): // give it the chance to misbehave
	}
	g.ack("b-1")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if f := g.expect(wire.FramePassthroughForward); f.BufferID != "b-2" {
		t.Errorf("bufferId = %q, want b-2", f.BufferID)
	}

	ping, err := s.ForwardInteraction(t.Context(), []byte(`{"id":"p","type":1}`), devconnector.InteractionOptions{})
	if err != nil || !ping.Ping || ping.BufferID != "" {
		t.Errorf("PING = %+v, %v", ping, err)
	}
	if _, err := s.ForwardInteraction(t.Context(), []byte(`[]`), devconnector.InteractionOptions{}); !errors.Is(err, devconnector.ErrBadBody) {
		t.Errorf("ForwardInteraction([]) = %v, want ErrBadBody", err)
	}
}
