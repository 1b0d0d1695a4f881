package devconnector_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/relaybus/relaybus/internal/devconnector"
	"github.com/relaybus/relaybus/pkg/wire"
)

func TestAuth(t *testing.T) {
	clock := newClock()
	gateways := map[string]string{"gw-x": "secret-x", "gw-y": "secret-y"}
	tests := []struct {
		name       string
		gateways   map[string]string
		token      string
		wantReason string // "" = accepted
		wantID     string
	}{
		{name: "OK", gateways: gateways, token: wire.MintTokenAt("gw-x", "secret-x", clock.Now(), wire.TokenTTL), wantID: "gw-x"},
		{name: "OKNeverExpires", gateways: gateways, token: wire.MintToken("gw-y", "secret-y", 0), wantID: "gw-y"},
		{name: "WrongSecret", gateways: gateways, token: wire.MintToken("gw-x", "secret-y", 0), wantReason: "unauthorized"},
		{name: "UnknownGateway", gateways: gateways, token: wire.MintToken("gw-z", "secret-x", 0), wantReason: "unauthorized"},
		{name: "Garbage", gateways: gateways, token: "not a token", wantReason: "unauthorized"},
		{name: "NoToken", gateways: gateways, wantReason: "unauthorized"},
		{name: "Expired", gateways: gateways, token: wire.MintToken("gw-x", "secret-x", clock.Now().Add(-time.Second).Unix()), wantReason: "expired"},
		{name: "Unauthenticated", token: ""},
		{name: "UnauthenticatedIgnoresToken", token: "whatever"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, devconnector.Config{Gateways: tt.gateways, Now: clock.Now})
			g := dial(t, s, tt.token)
			if tt.wantReason != "" {
				ce := g.closeError()
				if ce == nil || ce.Code != devconnector.CloseUnauthorized || ce.Text != tt.wantReason {
					t.Fatalf("close = %v (read err %v), want %d %q", ce, g.err, devconnector.CloseUnauthorized, tt.wantReason)
				}
				if st := s.State(); st.Refused != 1 || st.Connections != 0 || st.Connected {
					t.Errorf("state = refused %d connections %d connected %v, want 1 0 false", st.Refused, st.Connections, st.Connected)
				}
				return
			}
			if err := s.WaitConnected(ctxTimeout(t)); err != nil {
				t.Fatalf("WaitConnected: %v", err)
			}
			if d := g.hello("discord", "app1"); d["platform"] != "discord" {
				t.Errorf("descriptor platform = %v, want discord", d["platform"])
			}
			if got := s.State().GatewayID; got != tt.wantID {
				t.Errorf("gateway id = %q, want %q", got, tt.wantID)
			}
			want := []devconnector.Hello{{Platform: "discord", BotID: "app1", GatewayID: tt.wantID, At: clock.Now()}}
			if diff := cmp.Diff(want, s.Hellos()); diff != "" {
				t.Errorf("Hellos() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  devconnector.Config
	}{
		{"BlankSecret", devconnector.Config{Gateways: map[string]string{"gw": "  "}}},
		{"EmptyID", devconnector.Config{Gateways: map[string]string{"": "s"}}},
		{"NegativeReplayLimit", devconnector.Config{ReplayLimit: -1}},
		{"NegativeTTL", devconnector.Config{FollowUpTTL: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := devconnector.New(tt.cfg)
			if !errors.Is(err, devconnector.ErrBadConfig) {
				t.Fatalf("New() error = %v, want ErrBadConfig", err)
			}
		})
	}
}

func TestReplacedConnection(t *testing.T) {
	s := newServer(t, devconnector.Config{})
	first := connected(t, s)
	second := dial(t, s, "")
	ce := first.closeError()
	if ce == nil || ce.Code != devconnector.CloseReplaced || ce.Text != "replaced" {
		t.Fatalf("first socket close = %v (err %v), want %d replaced", ce, first.err, devconnector.CloseReplaced)
	}
	second.hello("discord", "app1")
	id := s.Emit(wire.FrameInbound, map[string]any{"event": map[string]any{"text": "hi"}})
	if f := second.expect(wire.FrameInbound); f.BufferID != id {
		t.Errorf("second socket got bufferId %q, want %q", f.BufferID, id)
	}
	if st := s.State(); st.Connections != 2 || !st.Connected {
		t.Errorf("state connections=%d connected=%v, want 2 true", st.Connections, st.Connected)
	}
}

func TestCloseWith(t *testing.T) {
	s := newServer(t, devconnector.Config{})
	g := connected(t, s)
	if !s.CloseWith(devconnector.CloseUnauthorized, "unauthorized") {
		t.Fatal("CloseWith() = false, want true")
	}
	if s.Connected() {
		t.Error("Connected() = true right after CloseWith")
	}
	ce := g.closeError()
	if ce == nil || ce.Code != 4401 || ce.Text != "unauthorized" {
		t.Fatalf("close = %v (err %v), want 4401 unauthorized", ce, g.err)
	}
	if s.CloseWith(4401, "x") {
		t.Error("CloseWith() without a socket = true, want false")
	}
}

func TestDropConnection(t *testing.T) {
	s := newServer(t, devconnector.Config{})
	g := connected(t, s)
	if !s.DropConnection() {
		t.Fatal("DropConnection() = false, want true")
	}
	if ce := g.closeError(); ce != nil && ce.Code != 1006 {
		t.Fatalf("close = %v, want no close frame (1006 abnormal closure)", ce)
	}
	if s.Connected() {
		t.Error("Connected() = true after DropConnection")
	}
	if s.DropConnection() {
		t.Error("DropConnection() without a socket = true, want false")
	}
}

func TestAuthSchemeCaseInsensitive(t *testing.T) {
	s := newServer(t, devconnector.Config{Gateways: map[string]string{"gw": "s3cret"}})
	rawDial(t, s, http.Header{"Authorization": {"bearer " + wire.MintToken("gw", "s3cret", 0)}})
	if err := s.WaitConnected(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	if got := s.State().GatewayID; got != "gw" {
		t.Errorf("gateway id = %q, want gw", got)
	}
}
