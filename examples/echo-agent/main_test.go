package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/relaybus/relaybus/pkg/events"
)

func TestAnswer(t *testing.T) {
	tests := map[string]struct {
		ev   events.MessageEvent
		want string
	}{
		"Text":      {events.MessageEvent{Text: "hi"}, "echo: hi"},
		"Command":   {events.MessageEvent{Interaction: &events.Interaction{Command: &events.Command{Path: []string{"config", "set"}}}}, "you ran /config set"},
		"Component": {events.MessageEvent{Interaction: &events.Interaction{Component: &events.Component{Type: "button", CustomID: "ok"}}}, `you used button "ok"`},
		"Modal":     {events.MessageEvent{Interaction: &events.Interaction{Modal: &events.Modal{CustomID: "bug", Fields: []events.ModalField{{CustomID: "a"}}}}}, "you submitted bug with 1 fields"},
	}
	for name, tt := range tests {
		if got := answer(&tt.ev); got != tt.want {
			t.Errorf("%s: answer = %q, want %q", name, got, tt.want)
		}
	}
}

// A user nkey made for this test only (it opens nothing).
const (
	testSeed   = "SUADUMLS5GHZI4YLR4GNMDVZWZ4L5GD2P6T7MGXVOSMNUZADFA3A62RSYU"
	testPublic = "UDQ6NRHG3DZ6GFTMVRUQJRNHPX2QMDKRY4H2LOFKUONSZL3ED44P7TA7"
)

func TestAuthOptions(t *testing.T) {
	seed := filepath.Join(t.TempDir(), "agent.nk")
	if err := os.WriteFile(seed, []byte(testSeed+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	opts, err := authOptions(env(map[string]string{"NATS_NKEY": seed}))
	if err != nil {
		t.Fatal(err)
	}
	var o nats.Options
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			t.Fatal(err)
		}
	}
	if o.Nkey != testPublic || o.SignatureCB == nil {
		t.Errorf("NATS_NKEY: nkey %q, want %q with a signer", o.Nkey, testPublic)
	}
	for name, e := range map[string]map[string]string{
		"ErrCertWithoutKey": {"NATS_TLS_CERT": "c.pem"},
		"ErrKeyWithoutCert": {"NATS_TLS_KEY": "k.pem"},
		"ErrNoSeed":         {"NATS_NKEY": seed + ".missing"},
	} {
		if _, err := authOptions(env(e)); err == nil {
			t.Errorf("%s: authOptions = nil error", name)
		}
	}
}
