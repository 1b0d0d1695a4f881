// Package kvwatch keeps a local copy of a JetStream KV bucket current: it
// watches every key, hands the initial values to a [Sink] as one snapshot
// and every later change as an update, and re-creates the watch (with a
// fresh snapshot) whenever it may have missed something.
//
// A watch is re-created when its update channel closes (the watcher's
// consumer was lost for good) and when the NATS connection reconnected (a
// server restart or a network cut: the ordered consumer behind a watch may
// not survive either, and a fresh snapshot also forgets keys deleted while
// the watch was down). Re-creation backs off from 100 ms to 5 s
// (with jitter, package backoff).
//
// The Sink is called from the Run goroutine only; it must make its contents
// safe for concurrent readers itself.
package kvwatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/pkg/backoff"
)

var (
	// ErrWatchClosed is the cause logged when a watch's update channel
	// closed under it.
	ErrWatchClosed = errors.New("kvwatch: watch closed")

	// ErrReconnected is the cause logged when a watch is re-created because
	// the NATS connection reconnected.
	ErrReconnected = errors.New("kvwatch: nats reconnected")
)

// Entry is one key's value (or its deletion) at a bucket revision.
type Entry struct {
	Key      string
	Value    []byte
	Revision uint64
	// Deleted is set for a delete or purge marker; Value is then empty.
	Deleted bool
}

// Sink receives a bucket's contents.
type Sink interface {
	// Reset replaces everything the sink holds with entries, the bucket's
	// live keys after a (re-)watch (deleted keys are left out).
	Reset(entries []Entry)
	// Apply applies one change that happened after the last Reset.
	Apply(e Entry)
}

// Watcher watches one bucket into one Sink. Create it with [New]; its
// methods are safe for concurrent use.
type Watcher struct {
	js     jetstream.JetStream
	bucket string
	sink   Sink
	log    *slog.Logger
	// check is how often the connection's reconnect counter is compared.
	check time.Duration

	synced  atomic.Bool
	watches atomic.Uint64
}

// New returns a watcher of bucket feeding sink. log may be nil.
func New(js jetstream.JetStream, bucket string, sink Sink, log *slog.Logger) *Watcher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Watcher{js: js, bucket: bucket, sink: sink, log: log, check: 250 * time.Millisecond}
}

// Synced reports whether the current watch has delivered its snapshot (and
// so the sink reflects the bucket, up to in-flight updates).
func (w *Watcher) Synced() bool { return w.synced.Load() }

// Watches returns how many watches were created so far (1 after the first
// start; each re-creation adds one).
func (w *Watcher) Watches() uint64 { return w.watches.Load() }

// Run watches until ctx is done and returns nil then. Losing the watch is
// logged and healed, never fatal.
func (w *Watcher) Run(ctx context.Context) error {
	ladder := backoff.New(100*time.Millisecond, 5*time.Second, nil)
	for ctx.Err() == nil {
		synced, err := w.watchOnce(ctx)
		w.synced.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		if synced {
			ladder.Reset()
		}
		level := slog.LevelWarn
		if errors.Is(err, ErrReconnected) {
			level = slog.LevelInfo
		}
		retryIn := ladder.Next()
		w.log.Log(ctx, level, "kv watch lost, re-creating", "bucket", w.bucket, "err", err, "retry_in", retryIn)
		if !backoff.Sleep(ctx, retryIn) {
			return nil
		}
	}
	return nil
}

// watchOnce runs one watch until it is lost; synced says whether it got as
// far as its snapshot.
func (w *Watcher) watchOnce(ctx context.Context) (synced bool, err error) {
	nc := w.js.Conn()
	reconnects := nc.Stats().Reconnects

	octx, cancel := context.WithTimeout(ctx, 10*time.Second)
	kv, err := w.js.KeyValue(octx, w.bucket)
	cancel()
	if err != nil {
		return false, fmt.Errorf("opening bucket: %w", err)
	}
	// Cancelling wctx ends the watch: the library then unsubscribes (and
	// deletes its ordered consumer) in the background, so that a shutdown
	// or a re-creation never waits on a server that is not there.
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	kw, err := kv.WatchAll(wctx)
	if err != nil {
		return false, fmt.Errorf("watching bucket: %w", err)
	}
	w.watches.Add(1)

	tick := time.NewTicker(w.check)
	defer tick.Stop()
	var snap []Entry
	for {
		select {
		case <-ctx.Done():
			return synced, ctx.Err()
		case <-tick.C:
			if nc.Stats().Reconnects != reconnects {
				return synced, ErrReconnected
			}
		case e, ok := <-kw.Updates():
			if !ok {
				return synced, ErrWatchClosed
			}
			if e == nil {
				if !synced {
					w.sink.Reset(snap)
					snap = nil
					synced = true
					w.synced.Store(true)
					w.log.Debug("kv snapshot loaded", "bucket", w.bucket)
				}
				continue
			}
			ent := Entry{Key: e.Key(), Value: e.Value(), Revision: e.Revision(), Deleted: e.Operation() != jetstream.KeyValuePut}
			if !synced {
				if !ent.Deleted {
					snap = append(snap, ent)
				}
				continue
			}
			w.sink.Apply(ent)
		}
	}
}
