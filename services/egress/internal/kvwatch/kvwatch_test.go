package kvwatch_test

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/services/egress/internal/kvwatch"
)

// mapSink keeps the bucket as a map and counts resets.
type mapSink struct {
	mu     sync.Mutex
	m      map[string]string
	resets int
}

func (s *mapSink) Reset(entries []kvwatch.Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m = map[string]string{}
	for _, e := range entries {
		s.m[e.Key] = string(e.Value)
	}
	s.resets++
}

func (s *mapSink) Apply(e kvwatch.Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.Deleted {
		delete(s.m, e.Key)
		return
	}
	s.m[e.Key] = string(e.Value)
}

func (s *mapSink) snapshot() (map[string]string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.m), s.resets
}

func (s *mapSink) waitFor(tb testing.TB, want map[string]string) {
	tb.Helper()
	natstest.WaitFor(tb, 10*time.Second, func() error {
		got, _ := s.snapshot()
		if diff := cmp.Diff(want, got); diff != "" {
			return fmt.Errorf("sink (-want +got):\n%s", diff)
		}
		return nil
	})
}

func newBucket(tb testing.TB, js jetstream.JetStream, storage jetstream.StorageType) jetstream.KeyValue {
	tb.Helper()
	kv, err := js.CreateOrUpdateKeyValue(tb.Context(), jetstream.KeyValueConfig{Bucket: "b", Storage: storage})
	if err != nil {
		tb.Fatal(err)
	}
	return kv
}

func run(tb testing.TB, w *kvwatch.Watcher) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Run = %v, want nil", err)
		}
	})
}

func TestSnapshotThenUpdates(t *testing.T) {
	ns := natstest.RunServer(t)
	nc := natstest.Connect(t, ns)
	js := natstest.JetStream(t, nc)
	kv := newBucket(t, js, jetstream.MemoryStorage)
	ctx := t.Context()
	kv.PutString(ctx, "a", "1")
	kv.PutString(ctx, "b", "1")
	kv.PutString(ctx, "b", "2")
	kv.PutString(ctx, "gone", "x")
	kv.Delete(ctx, "gone")

	sink := &mapSink{}
	w := kvwatch.New(js, "b", sink, natstest.Logger(t))
	run(t, w)
	natstest.WaitFor(t, 10*time.Second, func() error {
		if !w.Synced() {
			return fmt.Errorf("not synced")
		}
		return nil
	})
	got, resets := sink.snapshot()
	if diff := cmp.Diff(map[string]string{"a": "1", "b": "2"}, got); diff != "" || resets != 1 {
		t.Fatalf("snapshot (-want +got):\n%s (resets %d, want 1)", diff, resets)
	}
	kv.PutString(ctx, "c", "3")
	kv.Delete(ctx, "a")
	kv.Purge(ctx, "b")
	sink.waitFor(t, map[string]string{"c": "3"})
}

func TestEmptyBucketSyncs(t *testing.T) {
	ns := natstest.RunServer(t)
	js := natstest.JetStream(t, natstest.Connect(t, ns))
	newBucket(t, js, jetstream.MemoryStorage)
	w := kvwatch.New(js, "b", &mapSink{}, nil)
	run(t, w)
	natstest.WaitFor(t, 10*time.Second, func() error {
		if !w.Synced() {
			return fmt.Errorf("not synced")
		}
		return nil
	})
}

func TestMissingBucketRetried(t *testing.T) {
	ns := natstest.RunServer(t)
	js := natstest.JetStream(t, natstest.Connect(t, ns))
	sink := &mapSink{}
	w := kvwatch.New(js, "b", sink, natstest.Logger(t))
	run(t, w)
	kv := newBucket(t, js, jetstream.MemoryStorage)
	kv.PutString(t.Context(), "k", "v")
	sink.waitFor(t, map[string]string{"k": "v"})
}

func TestResyncAfterServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts the server")
	}
	dir := t.TempDir()
	ns := natstest.RunServer(t, natstest.WithStoreDir(dir))
	nc := natstest.Connect(t, ns)
	js := natstest.JetStream(t, nc)
	kv := newBucket(t, js, jetstream.FileStorage)
	kv.PutString(t.Context(), "k1", "v1")
	sink := &mapSink{}
	w := kvwatch.New(js, "b", sink, natstest.Logger(t))
	run(t, w)
	sink.waitFor(t, map[string]string{"k1": "v1"})

	natstest.Restart(t, ns, dir)
	natstest.WaitFor(t, 10*time.Second, func() error {
		if _, resets := sink.snapshot(); resets < 2 || !w.Synced() {
			return fmt.Errorf("resets %d, synced %v", resets, w.Synced())
		}
		return nil
	})
	if _, err := kv.PutString(t.Context(), "k2", "v2"); err != nil {
		t.Fatal(err)
	}
	sink.waitFor(t, map[string]string{"k1": "v1", "k2": "v2"})
	if got := w.Watches(); got < 2 {
		t.Errorf("watches = %d, want >= 2", got)
	}
}
