package bus_test

import (
	"testing"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/pkg/natstest"
)

// TestEnsureIsIdempotent: after Ensure, every stream's and bucket's stored
// configuration reads back as ours, so a second Ensure changes nothing
// (no update request, which also keeps concurrent starts from racing
// consumer creation inside the server).
func TestEnsureIsIdempotent(t *testing.T) {
	ns := natstest.RunServer(t)
	js := natstest.JetStream(t, natstest.Connect(t, ns))
	cfg := bus.DefaultConfig()
	for range 2 {
		if err := bus.Ensure(t.Context(), js, cfg); err != nil {
			t.Fatal(err)
		}
	}
	for _, sc := range cfg.Streams() {
		s, err := js.Stream(t.Context(), sc.Name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !bus.SameStream(info.Config, sc) {
			t.Errorf("stream %s reads back as %+v, want %+v", sc.Name, info.Config, sc)
		}
	}
	for _, kc := range cfg.Buckets() {
		kv, err := js.KeyValue(t.Context(), kc.Bucket)
		if err != nil {
			t.Fatal(err)
		}
		st, err := kv.Status(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !bus.SameBucket(st, kc) {
			t.Errorf("bucket %s reads back different", kc.Bucket)
		}
	}
	// A changed setting is applied.
	cfg.InboundMaxBytes = 2 << 30
	if err := bus.Ensure(t.Context(), js, cfg); err != nil {
		t.Fatal(err)
	}
	s, _ := js.Stream(t.Context(), "RELAY_INBOUND")
	info, _ := s.Info(t.Context())
	if info.Config.MaxBytes != 2<<30 {
		t.Errorf("MaxBytes = %d after a changed Ensure, want %d", info.Config.MaxBytes, 2<<30)
	}
}
