package bus_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/pkg/events"
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

// TestEnsureUpgradesLongWindows: a deployment made before the ack log
// (RELAY_RAW and RELAY_OUTBOUND with the 1 h server window of
// RELAY_DUPLICATE_WINDOW, no RELAY_ACKLOG) is brought to the new shape by
// Ensure: the windows shrink in place, keeping the stored messages, and the
// ack log is created with the replay horizon as its max age.
func TestEnsureUpgradesLongWindows(t *testing.T) {
	ns := natstest.RunServer(t)
	js := natstest.JetStream(t, natstest.Connect(t, ns))
	cfg := bus.DefaultConfig()
	for _, sc := range cfg.Streams() {
		switch sc.Name {
		case bus.AckLogStream:
			continue // did not exist
		case events.RawStream, events.OutboundStream:
			sc.Duplicates = time.Hour // the old shape
		}
		if _, err := js.CreateStream(t.Context(), sc); err != nil {
			t.Fatalf("creating the old %s: %v", sc.Name, err)
		}
	}
	m := nats.NewMsg(events.RawSubject("inbound") + ".c1")
	m.Data = []byte(`{"type":"inbound"}`)
	m.Header.Set(events.MsgIDHeader, "b-1")
	if _, err := js.PublishMsg(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	if err := bus.Ensure(t.Context(), js, cfg); err != nil {
		t.Fatalf("Ensure over the old shape: %v", err)
	}
	for name, want := range map[string]time.Duration{
		events.RawStream:      30 * time.Second,
		events.OutboundStream: 30 * time.Second,
		bus.AckLogStream:      30 * time.Second,
	} {
		s, err := js.Stream(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if info.Config.Duplicates != want {
			t.Errorf("%s Duplicates = %v after Ensure, want %v", name, info.Config.Duplicates, want)
		}
		if name == events.RawStream && info.State.Msgs != 1 {
			t.Errorf("%s holds %d messages after the update, want the 1 stored before", name, info.State.Msgs)
		}
		if name == bus.AckLogStream && info.Config.MaxAge != time.Hour {
			t.Errorf("%s MaxAge = %v, want the replay horizon, 1h", name, info.Config.MaxAge)
		}
	}
}

// TestShortReplayHorizon: a replay horizon below the server's usual 2 min
// window is valid (the server refuses a window beyond a stream's max age).
func TestShortReplayHorizon(t *testing.T) {
	ns := natstest.RunServer(t)
	js := natstest.JetStream(t, natstest.Connect(t, ns))
	cfg := bus.DefaultConfig()
	cfg.DuplicateWindow = 30 * time.Second
	if err := bus.Ensure(t.Context(), js, cfg); err != nil {
		t.Fatalf("Ensure with a 30s horizon: %v", err)
	}
}

// TestInboundWindowFollowsTheConfig: RELAY_INBOUND's server window is
// RELAY_INBOUND_DUPLICATE_WINDOW, changed in place on an existing stream,
// and never beyond the stream's max age (the server would refuse it).
func TestInboundWindowFollowsTheConfig(t *testing.T) {
	ns := natstest.RunServer(t)
	js := natstest.JetStream(t, natstest.Connect(t, ns))
	window := func() time.Duration {
		t.Helper()
		s, err := js.Stream(t.Context(), events.InboundStream)
		if err != nil {
			t.Fatal(err)
		}
		return s.CachedInfo().Config.Duplicates
	}
	cfg := bus.DefaultConfig()
	for _, c := range []struct {
		window, maxAge, want time.Duration
	}{
		{30 * time.Second, 24 * time.Hour, 30 * time.Second}, // the default, created
		{2 * time.Minute, 24 * time.Hour, 2 * time.Minute},   // lengthened in place
		{10 * time.Second, 24 * time.Hour, 10 * time.Second}, // shortened in place
		{2 * time.Hour, time.Hour, time.Hour},                // capped at the max age
	} {
		cfg.InboundDuplicateWindow, cfg.InboundMaxAge = c.window, c.maxAge
		if err := bus.Ensure(t.Context(), js, cfg); err != nil {
			t.Fatalf("Ensure with a %v window: %v", c.window, err)
		}
		if got := window(); got != c.want {
			t.Errorf("RELAY_INBOUND_DUPLICATE_WINDOW=%v, max age %v: the stream's window is %v, want %v", c.window, c.maxAge, got, c.want)
		}
	}
}
