package bus

import (
	"context"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// Lazy is a JetStream handle — a stream, a KV bucket — opened on first use
// and again after [Lazy.Drop]: a stage drops it after a failed call, in
// case the stream or bucket was re-created meanwhile. Safe for concurrent
// use.
type Lazy[T any] struct {
	open func(context.Context) (T, error)
	mu   sync.Mutex
	v    T
	ok   bool
}

// NewLazy returns a handle that open opens.
func NewLazy[T any](open func(context.Context) (T, error)) *Lazy[T] {
	return &Lazy[T]{open: open}
}

// LazyStream is the stream name of js, opened lazily.
func LazyStream(js jetstream.JetStream, name string) *Lazy[jetstream.Stream] {
	return NewLazy(func(ctx context.Context) (jetstream.Stream, error) {
		st, err := js.Stream(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("opening stream %s: %w", name, err)
		}
		return st, nil
	})
}

// LazyKV is the key-value bucket of js, opened lazily.
func LazyKV(js jetstream.JetStream, bucket string) *Lazy[jetstream.KeyValue] {
	return NewLazy(func(ctx context.Context) (jetstream.KeyValue, error) {
		kv, err := js.KeyValue(ctx, bucket)
		if err != nil {
			return nil, fmt.Errorf("opening bucket %s: %w", bucket, err)
		}
		return kv, nil
	})
}

// Get returns the handle, opening it when it is not open.
func (l *Lazy[T]) Get(ctx context.Context) (T, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ok {
		return l.v, nil
	}
	v, err := l.open(ctx)
	if err != nil {
		return v, err
	}
	l.v, l.ok = v, true
	return v, nil
}

// Drop forgets the handle: the next Get opens it again.
func (l *Lazy[T]) Drop() {
	l.mu.Lock()
	var zero T
	l.v, l.ok = zero, false
	l.mu.Unlock()
}
