package bus_test

import (
	"context"
	"errors"
	"testing"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
)

// A Lazy handle is opened once, again after Drop, and again after an open
// that failed.
func TestLazyOpensOnceAndAgainAfterDrop(t *testing.T) {
	opened, fail := 0, errors.New("not there yet")
	l := bus.NewLazy(func(context.Context) (int, error) {
		opened++
		if opened == 1 {
			return 0, fail
		}
		return opened, nil
	})
	if _, err := l.Get(t.Context()); !errors.Is(err, fail) {
		t.Fatalf("first Get: %v, want the open's error", err)
	}
	for range 3 {
		if v, err := l.Get(t.Context()); err != nil || v != 2 {
			t.Fatalf("Get = %d, %v; want the handle of the second open", v, err)
		}
	}
	l.Drop()
	if v, _ := l.Get(t.Context()); v != 3 || opened != 3 {
		t.Errorf("after Drop: Get = %d after %d opens, want a third open", v, opened)
	}
}

// LazyStream and LazyKV open the real stream and bucket, and say which
// one is missing.
func TestLazyStreamAndKV(t *testing.T) {
	js := natstest.JetStream(t, natstest.Connect(t, natstest.RunServer(t)))
	st, kv := bus.LazyStream(js, events.InboundStream), bus.LazyKV(js, events.ScopeBucket)
	if _, err := st.Get(t.Context()); err == nil {
		t.Fatal("opened a stream that does not exist")
	}
	if err := bus.Ensure(t.Context(), js, bus.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	s, err := st.Get(t.Context())
	if err != nil || s.CachedInfo().Config.Name != events.InboundStream {
		t.Fatalf("LazyStream after Ensure: %v", err)
	}
	b, err := kv.Get(t.Context())
	if err != nil || b.Bucket() != events.ScopeBucket {
		t.Fatalf("LazyKV after Ensure: %v", err)
	}
}
