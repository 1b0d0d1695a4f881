package wsedge_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/wire"
	"github.com/relaybus/relaybus/services/ws-edge/wsedge"
)

func TestHellosPerIdentity(t *testing.T) {
	tests := []struct {
		name      string
		platforms []string
		botIDs    string
		want      []map[string]any
	}{
		{"NothingConfigured", nil, "", []map[string]any{{"type": "hello", "platform": "relay", "botId": ""}}},
		{"InOrderWithBotIDs", []string{"discord", "telegram", "slack"}, `{"discord":{"botId":"123"},"slack":{"botId":"S9"}}`, []map[string]any{
			{"type": "hello", "platform": "discord", "botId": "123"},
			{"type": "hello", "platform": "telegram", "botId": ""},
			{"type": "hello", "platform": "slack", "botId": "S9"},
		}},
		{"BadBotIDsJSON", []string{"discord"}, `{not json`, []map[string]any{{"type": "hello", "platform": "discord", "botId": ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, func(c *wsedge.Config) { c.Platforms, c.BotIDs = tt.platforms, tt.botIDs })
			p := h.conn.accept(5 * time.Second)
			got := p.handshake(len(tt.want))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("hellos (-want +got):\n%s", diff)
			}
			h.waitReady()
		})
	}
}

func TestAuthTokenMintedPerDial(t *testing.T) {
	h := start(t, func(c *wsedge.Config) { c.RelayID, c.RelaySecret = "gw-1", "s3cret" })
	p1 := h.conn.accept(5 * time.Second)
	p1.handshake(1)
	p1.drop()
	p2 := h.conn.accept(5 * time.Second)
	for _, p := range []*peer{p1, p2} {
		tok, ok := strings.CutPrefix(p.auth, "Bearer ")
		if !ok {
			t.Fatalf("Authorization = %q, want a Bearer token", p.auth)
		}
		id, exp, err := wire.VerifyToken(tok, func(string) (string, bool) { return "s3cret", true }, time.Now())
		if err != nil || id != "gw-1" {
			t.Errorf("VerifyToken = (%q, %v), want gw-1", id, err)
		}
		if d := time.Until(time.Unix(exp, 0)); d < 290*time.Second || d > 301*time.Second {
			t.Errorf("token expires in %v, want about 300s", d)
		}
	}
}

func TestUnauthenticatedWithoutSecret(t *testing.T) {
	h := start(t, func(c *wsedge.Config) { c.RelayID = "gw-1" })
	if p := h.conn.accept(5 * time.Second); p.auth != "" {
		t.Errorf("Authorization = %q, want none without a secret", p.auth)
	}
}

func TestHandshakeTimeoutRedials(t *testing.T) {
	h := start(t, func(c *wsedge.Config) { c.HandshakeTimeout = 200 * time.Millisecond })
	p1 := h.conn.accept(5 * time.Second)
	p1.expect("hello") // and no descriptor
	err := p1.waitClosed(5 * time.Second)
	if websocket.IsCloseError(err, 4401) {
		t.Errorf("closed with %v", err)
	}
	p2 := h.conn.accept(5 * time.Second)
	p2.handshake(1)
	h.waitReady()
}

func Test4401BeforeHandshakeIsRetried(t *testing.T) {
	h := start(t, nil)
	for range 3 {
		p := h.conn.accept(5 * time.Second)
		p.expect("hello")
		p.closeWith(4401, "unauthorized")
	}
	h.handshaken()
	if err := h.svc.Live(context.Background()); err != nil {
		t.Errorf("Live = %v, want nil", err)
	}
}

func Test4401AfterHandshakeRevokesOnSecondRefusal(t *testing.T) {
	// A long ladder: only an immediate redial arrives within the test.
	h := start(t, func(c *wsedge.Config) { c.BackoffMin, c.BackoffMax = time.Minute, time.Minute })
	p1 := h.handshaken()
	p1.closeWith(4401, "unauthorized")

	p2 := h.conn.accept(5 * time.Second) // the one immediate redial, fresh token
	if p2.auth == p1.auth && p1.auth != "" {
		t.Errorf("redial reused the token")
	}
	p2.expect("hello")
	p2.closeWith(4401, "unauthorized")

	if err := h.wait(10 * time.Second); !errors.Is(err, wsedge.ErrRevoked) {
		t.Fatalf("Run = %v, want ErrRevoked", err)
	}
	if err := h.svc.Live(context.Background()); !errors.Is(err, wsedge.ErrRevoked) || !strings.Contains(err.Error(), "relay credential revoked") {
		t.Errorf("Live = %v, want ErrRevoked", err)
	}
	if err := h.svc.Ready(context.Background()); !errors.Is(err, wsedge.ErrRevoked) {
		t.Errorf("Ready = %v, want ErrRevoked", err)
	}
	if got := h.metric("relay_wsedge_revoked"); got != 1 {
		t.Errorf("relay_wsedge_revoked = %v, want 1", got)
	}
	if n := h.conn.dials.Load(); n != 2 {
		t.Errorf("dials = %d, want 2 (no dial after the revocation)", n)
	}
}

func Test4401ExpiredIsNotRevocation(t *testing.T) {
	h := start(t, func(c *wsedge.Config) { c.BackoffMin, c.BackoffMax = time.Minute, time.Minute })
	p := h.handshaken()
	for range 2 {
		p.closeWith(4401, "expired")
		p = h.conn.accept(5 * time.Second) // redialed at once, every time
		p.handshake(1)
	}
	h.waitReady()
	if err := h.svc.Live(context.Background()); err != nil {
		t.Errorf("Live = %v, want nil", err)
	}
}

func TestShutdownGoesIdleAndClosesNormally(t *testing.T) {
	h := start(t, nil)
	p := h.handshaken()
	p.send(inboundFrame("b-1", "before shutdown"))
	p.expect("inbound_ack")
	h.cancel()
	p.expect("going_idle")
	// Frames the connector still sends before its ack are stored and acked.
	p.send(inboundFrame("b-2", "in the drain window"), `{"type":"going_idle_ack"}`)
	if ack := p.expect("inbound_ack"); ack["bufferId"] != "b-2" {
		t.Errorf("ack = %v, want b-2", ack)
	}
	err := p.waitClosed(5 * time.Second)
	if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Errorf("close = %v, want 1000", err)
	}
	if err := h.wait(10 * time.Second); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	h.streamMsgs(events.RawStream, rawInbound, 2)
}

// TestShutdownWaitsForWrittenOutbound: an outbound frame written before
// SIGTERM gets the connector's result during the drain instead of an
// ambiguous "connection lost".
func TestShutdownWaitsForWrittenOutbound(t *testing.T) {
	h := start(t, nil)
	p := h.handshaken()
	reply := h.asyncRequest(events.EdgeOutboundSubject, sendAction, nil)
	f := p.expect("outbound")
	h.cancel()
	p.expect("going_idle")
	p.send(`{"type":"going_idle_ack"}`)
	time.Sleep(100 * time.Millisecond) // the connector is slow to answer: the drain waits
	p.send(`{"type":"outbound_result","requestId":"` + f["requestId"].(string) + `","result":{"success":true,"message_id":"m-1"}}`)
	if got := replyOf(t, reply, 10*time.Second); got["success"] != true || got["message_id"] != "m-1" {
		t.Errorf("reply = %v, want the connector's success", got)
	}
	if err := p.waitClosed(5 * time.Second); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Errorf("close = %v, want 1000", err)
	}
	if err := h.wait(10 * time.Second); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

func TestShutdownWithoutIdleAck(t *testing.T) {
	h := start(t, func(c *wsedge.Config) { c.IdleTimeout = 100 * time.Millisecond })
	p := h.handshaken()
	h.cancel()
	p.expect("going_idle")
	if err := p.waitClosed(5 * time.Second); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Errorf("close = %v, want 1000", err)
	}
	if err := h.wait(10 * time.Second); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

func TestDeadConnectionDetected(t *testing.T) {
	h := start(t, func(c *wsedge.Config) {
		c.PingInterval, c.PongTimeout = 50*time.Millisecond, 300*time.Millisecond
	})
	h.conn.ignorePings.Store(true)
	p1 := h.conn.accept(5 * time.Second)
	p1.handshake(1)
	h.conn.ignorePings.Store(false)
	// No pong ever comes back: ws-edge gives the socket up and redials.
	p2 := h.conn.accept(5 * time.Second)
	p2.handshake(1)
	h.waitReady()
	// Answered pings keep a socket alive well past the pong timeout.
	h.conn.noDialUntil(5*time.Second, func() bool { return p2.pings.Load() >= 8 })
}

func TestReadiness(t *testing.T) {
	h := start(t, nil)
	p := h.conn.accept(5 * time.Second)
	p.expect("hello")
	if err := h.svc.Ready(context.Background()); !errors.Is(err, wsedge.ErrNotHandshaken) {
		t.Errorf("Ready before the descriptor = %v, want ErrNotHandshaken", err)
	}
	p.send(descriptorFrame("relay"))
	h.waitReady()
	h.waitMetric(2, "relay_wsedge_socket_state")
	p.drop()
	h.conn.accept(5 * time.Second).expect("hello") // redialed, not yet handshaken
	h.waitMetric(1, "relay_wsedge_socket_state")
	if err := h.svc.Ready(context.Background()); !errors.Is(err, wsedge.ErrNotHandshaken) {
		t.Errorf("Ready after the socket dropped = %v, want ErrNotHandshaken", err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	base := map[string]string{"GATEWAY_RELAY_URL": "https://c.example"}
	tests := []struct {
		name    string
		env     map[string]string
		check   func(t *testing.T, c wsedge.Config)
		wantErr string // a substring of the error, "" for none
	}{
		{"Defaults", nil, func(t *testing.T, c wsedge.Config) {
			d := wsedge.DefaultConfig()
			d.RelayURL = "https://c.example"
			if diff := cmp.Diff(d, c); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		}, ""},
		{"Everything", map[string]string{
			"GATEWAY_RELAY_ID": "gw", "GATEWAY_RELAY_SECRET": " s ", "GATEWAY_RELAY_PLATFORMS": " discord, ,telegram ",
			"GATEWAY_RELAY_BOT_IDS": `{"discord":{"botId":"1"}}`, "WSEDGE_MAX_FRAME_BYTES": "2048",
			"WSEDGE_PUBLISH_WINDOW": "64", "WSEDGE_OUTBOUND_TIMEOUT": "5s", "WSEDGE_BACKOFF_MIN": "10ms",
			"WSEDGE_BACKOFF_MAX": "1s", "WSEDGE_HTTP_ADDR": ":9", "WSEDGE_INSTANCE_ID": "edge-a",
			"RELAY_DUPLICATE_WINDOW": "2h",
		}, func(t *testing.T, c wsedge.Config) {
			got := []any{c.RelayID, c.RelaySecret, c.Platforms, c.BotIDs, c.MaxFrameBytes, c.PublishWindow,
				c.OutboundTimeout, c.BackoffMin, c.BackoffMax, c.HTTPAddr, c.InstanceID, c.Bus.DuplicateWindow}
			want := []any{"gw", " s ", []string{"discord", "telegram"}, `{"discord":{"botId":"1"}}`, 2048, 64,
				5 * time.Second, 10 * time.Millisecond, time.Second, ":9", "edge-a", 2 * time.Hour}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		}, ""},
		{"ErrMissingURL", map[string]string{"GATEWAY_RELAY_URL": ""}, nil, "GATEWAY_RELAY_URL is required"},
		{"ErrBadURL", map[string]string{"GATEWAY_RELAY_URL": "ftp://x"}, nil, "GATEWAY_RELAY_URL"},
		{"ErrBlankSecret", map[string]string{"GATEWAY_RELAY_SECRET": "   "}, nil, "GATEWAY_RELAY_SECRET must contain a non-space character"},
		{"ErrBadDuration", map[string]string{"WSEDGE_PING_INTERVAL": "soon"}, nil, "WSEDGE_PING_INTERVAL"},
		{"ErrBadInt", map[string]string{"WSEDGE_PUBLISH_WINDOW": "many"}, nil, "WSEDGE_PUBLISH_WINDOW"},
		{"ErrZeroWindow", map[string]string{"WSEDGE_PUBLISH_WINDOW": "0"}, nil, "WSEDGE_PUBLISH_WINDOW"},
		{"ErrBackoffOrder", map[string]string{"WSEDGE_BACKOFF_MIN": "2s", "WSEDGE_BACKOFF_MAX": "1s"}, nil, "WSEDGE_BACKOFF_MAX"},
		{"ErrPongBeforePing", map[string]string{"WSEDGE_PONG_TIMEOUT": "10s"}, nil, "WSEDGE_PONG_TIMEOUT"},
		{"ErrBus", map[string]string{"RELAY_STREAM_REPLICAS": "x"}, nil, "RELAY_STREAM_REPLICAS"},
		{"ErrAckHorizonBelowDeadSocket", map[string]string{"WSEDGE_ACK_HORIZON": "65s"}, nil, "WSEDGE_ACK_HORIZON=1m5s is below WSEDGE_PONG_TIMEOUT + WSEDGE_WRITE_TIMEOUT = 1m10s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tt.env {
				env[k] = v
			}
			c, err := wsedge.ConfigFromEnv(func(k string) string { return env[k] })
			if tt.wantErr != "" {
				if !errors.Is(err, wsedge.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ConfigFromEnv = %v, want ErrInvalidConfig mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ConfigFromEnv: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestConfigLogRedactsSecret(t *testing.T) {
	c := wsedge.DefaultConfig()
	c.RelaySecret = "hunter2-very-secret"
	if s := c.LogValue().String(); strings.Contains(s, "hunter2") {
		t.Errorf("LogValue leaks the secret: %s", s)
	}
}

func TestBotIDShapes(t *testing.T) {
	h := start(t, func(c *wsedge.Config) {
		c.Platforms = []string{"discord", "slack", "telegram"}
		c.BotIDs = `{"discord":{"botId":786008729715212338},"slack":"U1","telegram":{"bot":"x"}}`
	})
	p := h.conn.accept(5 * time.Second)
	var got []any
	for range 3 {
		got = append(got, p.expect("hello")["botId"])
	}
	if diff := cmp.Diff([]any{"786008729715212338", "U1", ""}, got); diff != "" {
		t.Errorf("botIds (-want +got):\n%s", diff)
	}
}
