// Package bus creates relaybus's JetStream streams and KV buckets
// idempotently (every service calls Ensure at start; the first one wins and
// the others find them in place) and reads the shared settings that shape
// them from the environment.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/envconf"
	"github.com/relaybus/relaybus/pkg/events"
)

// ErrInvalidConfig classifies configuration errors.
var ErrInvalidConfig = errors.New("bus: invalid config")

// ResultsStream keeps each action's definitive result for the duplicate
// window, so that egress can answer a redelivered action from it instead of
// sending it twice. It captures relay.results.> (which agents still read as
// plain core NATS subjects).
const ResultsStream = events.ResultsStream

// Config shapes the streams and buckets.
type Config struct {
	// Replicas is RELAY_STREAM_REPLICAS: 1, or 3 on a cluster.
	Replicas int
	// DuplicateWindow is RELAY_DUPLICATE_WINDOW: how long a bufferId (raw
	// stream) or an action id (outbound stream) is remembered (default 1h).
	DuplicateWindow time.Duration
	// InboundMaxAge bounds how long events wait for agents
	// (RELAY_INBOUND_MAX_AGE, default 24h).
	InboundMaxAge time.Duration
	// InboundMaxBytes bounds the inbound stream (RELAY_INBOUND_MAX_BYTES,
	// default 1 GiB; the oldest events are discarded first).
	InboundMaxBytes int64
	// DLQMaxAge bounds how long dead letters are kept (RELAY_DLQ_MAX_AGE,
	// default 7 days).
	DLQMaxAge time.Duration
	// Memory selects memory storage (RELAY_STREAM_STORAGE=memory): nothing
	// survives a server restart, so it is for benchmarks and throwaway
	// setups only. The default is file storage.
	Memory bool
}

// DefaultConfig returns the production defaults.
func DefaultConfig() Config {
	return Config{
		Replicas:        1,
		DuplicateWindow: time.Hour,
		InboundMaxAge:   24 * time.Hour,
		InboundMaxBytes: 1 << 30,
		DLQMaxAge:       7 * 24 * time.Hour,
	}
}

// FromEnv overlays the RELAY_* settings on the defaults.
func FromEnv(getenv func(string) string) (Config, error) {
	c := DefaultConfig()
	if err := envconf.Overlay(getenv,
		envconf.V("RELAY_STREAM_REPLICAS", &c.Replicas),
		envconf.V("RELAY_DUPLICATE_WINDOW", &c.DuplicateWindow),
		envconf.V("RELAY_INBOUND_MAX_AGE", &c.InboundMaxAge),
		envconf.V("RELAY_DLQ_MAX_AGE", &c.DLQMaxAge),
		envconf.V("RELAY_INBOUND_MAX_BYTES", &c.InboundMaxBytes),
	); err != nil {
		return c, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	switch v := getenv("RELAY_STREAM_STORAGE"); v {
	case "", "file":
	case "memory":
		c.Memory = true
	default:
		return c, fmt.Errorf("%w: RELAY_STREAM_STORAGE=%q: want file or memory", ErrInvalidConfig, v)
	}
	return c, c.Validate()
}

// Validate checks the settings.
func (c Config) Validate() error {
	switch {
	case c.Replicas < 1 || c.Replicas > 5:
		return fmt.Errorf("%w: RELAY_STREAM_REPLICAS=%d: want 1, 3 or 5", ErrInvalidConfig, c.Replicas)
	case c.DuplicateWindow < time.Second:
		return fmt.Errorf("%w: RELAY_DUPLICATE_WINDOW=%v: want at least 1s", ErrInvalidConfig, c.DuplicateWindow)
	case c.InboundMaxAge < time.Minute:
		return fmt.Errorf("%w: RELAY_INBOUND_MAX_AGE=%v: want at least 1m", ErrInvalidConfig, c.InboundMaxAge)
	case c.InboundMaxBytes < 1<<20:
		return fmt.Errorf("%w: RELAY_INBOUND_MAX_BYTES=%d: want at least 1 MiB", ErrInvalidConfig, c.InboundMaxBytes)
	case c.DLQMaxAge < time.Minute:
		return fmt.Errorf("%w: RELAY_DLQ_MAX_AGE=%v: want at least 1m", ErrInvalidConfig, c.DLQMaxAge)
	}
	return nil
}

func (c Config) storage() jetstream.StorageType {
	if c.Memory {
		return jetstream.MemoryStorage
	}
	return jetstream.FileStorage
}

// Streams returns the stream configurations.
//
// RELAY_RAW and RELAY_OUTBOUND are work queues: a message is removed once
// its stage acked it, so storage stays bounded under sustained load, and a
// message published before any consumer exists waits for one.
// De-duplication ids outlive the messages for the whole window.
func (c Config) Streams() []jetstream.StreamConfig {
	return []jetstream.StreamConfig{
		{
			Name:        events.RawStream,
			Description: "connector data frames exactly as received (ws-edge -> converter)",
			Subjects:    []string{events.RawSubjects},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     c.storage(),
			Replicas:    c.Replicas,
			Duplicates:  c.DuplicateWindow,
			MaxMsgSize:  8 << 20,
		},
		{
			Name:        events.InboundStream,
			Description: "normalized events for agents (converter -> agents)",
			Subjects:    []string{events.InboundSubjects},
			Retention:   jetstream.LimitsPolicy,
			Discard:     jetstream.DiscardOld,
			MaxAge:      c.InboundMaxAge,
			MaxBytes:    c.InboundMaxBytes,
			Storage:     c.storage(),
			Replicas:    c.Replicas,
			Duplicates:  2 * time.Minute,
		},
		{
			Name:        events.OutboundStream,
			Description: "agents' reply actions (agents -> egress)",
			Subjects:    []string{events.OutboundSubjects},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     c.storage(),
			Replicas:    c.Replicas,
			Duplicates:  c.DuplicateWindow,
		},
		{
			Name:              ResultsStream,
			Description:       "definitive action results and egress's before-write notes, kept for the duplicate window (egress)",
			Subjects:          []string{events.ResultsSubjectPrefix + ">", events.WritingSubjectPrefix + ">"},
			Retention:         jetstream.LimitsPolicy,
			MaxAge:            c.DuplicateWindow,
			MaxMsgsPerSubject: 1,
			// Bounded: at very high rates the oldest results go first
			// (redeliveries come within minutes).
			MaxBytes:   256 << 20,
			Discard:    jetstream.DiscardOld,
			Storage:    c.storage(),
			Replicas:   c.Replicas,
			Duplicates: 2 * time.Minute,
		},
		{
			Name:        events.DLQStream,
			Description: "dead letters from every stage, with Relay-Error headers",
			Subjects:    []string{events.DLQSubjects},
			Retention:   jetstream.LimitsPolicy,
			Discard:     jetstream.DiscardOld,
			MaxAge:      c.DLQMaxAge,
			MaxBytes:    256 << 20,
			Storage:     c.storage(),
			Replicas:    c.Replicas,
			Duplicates:  2 * time.Minute,
		},
	}
}

// Buckets returns the KV bucket configurations.
func (c Config) Buckets() []jetstream.KeyValueConfig {
	return []jetstream.KeyValueConfig{
		{
			Bucket:      events.ScopeBucket,
			Description: "per chat: scope id, author, platform, chat type, profile (converter -> egress)",
			History:     1,
			TTL:         90 * 24 * time.Hour,
			Storage:     c.storage(),
			Replicas:    c.Replicas,
		},
		{
			Bucket:      events.DescriptorBucket,
			Description: "per platform: the negotiated CapabilityDescriptor JSON (ws-edge -> egress, agents)",
			History:     5,
			Storage:     c.storage(),
			Replicas:    c.Replicas,
		},
	}
}

// Ensure creates every stream and bucket that is missing and updates one
// whose configuration differs from ours. It is idempotent and safe to call
// from every replica at once. An existing, matching stream is left alone:
// besides saving a round trip, needless updates raced consumer creation
// inside the server (nats-server 2.15, found by the race detector).
func Ensure(ctx context.Context, js jetstream.JetStream, c Config) error {
	for _, sc := range c.Streams() {
		if err := ensureStream(ctx, js, sc); err != nil {
			return fmt.Errorf("ensuring stream %s: %w", sc.Name, err)
		}
	}
	for _, kc := range c.Buckets() {
		if err := ensureBucket(ctx, js, kc); err != nil {
			return fmt.Errorf("ensuring bucket %s: %w", kc.Bucket, err)
		}
	}
	return nil
}

// ensureStream creates the stream, or updates it when it exists with other
// settings. Create comes first: a create-or-update (update, then create on
// "not found") sent by several stages at once against a fresh cluster left
// nats-server 2.15 silent for seconds per stream.
func ensureStream(ctx context.Context, js jetstream.JetStream, sc jetstream.StreamConfig) error {
	s, err := js.Stream(ctx, sc.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if _, err = js.CreateStream(ctx, sc); !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return err
		}
		s, err = js.Stream(ctx, sc.Name) // another stage created it first
	}
	if err != nil {
		return err
	}
	if sameStream(s.CachedInfo().Config, sc) {
		return nil
	}
	_, err = js.UpdateStream(ctx, sc)
	return err
}

// ensureBucket is ensureStream for a KV bucket.
func ensureBucket(ctx context.Context, js jetstream.JetStream, kc jetstream.KeyValueConfig) error {
	kv, err := js.KeyValue(ctx, kc.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		if _, err = js.CreateKeyValue(ctx, kc); !errors.Is(err, jetstream.ErrBucketExists) {
			return err
		}
		kv, err = js.KeyValue(ctx, kc.Bucket)
	}
	if err != nil {
		return err
	}
	if st, err := kv.Status(ctx); err == nil && sameBucket(st, kc) {
		return nil
	}
	_, err = js.UpdateKeyValue(ctx, kc)
	return err
}

// sameStream compares the settings Streams sets.
func sameStream(have, want jetstream.StreamConfig) bool {
	return slices.Equal(have.Subjects, want.Subjects) &&
		have.Retention == want.Retention && have.Storage == want.Storage &&
		max(have.Replicas, 1) == max(want.Replicas, 1) && have.Duplicates == want.Duplicates &&
		have.MaxAge == want.MaxAge && limit(have.MaxBytes, want.MaxBytes) &&
		have.Discard == want.Discard && limit(have.MaxMsgsPerSubject, want.MaxMsgsPerSubject) &&
		limit(int64(have.MaxMsgSize), int64(want.MaxMsgSize)) && have.Description == want.Description
}

// limit compares two limits where zero and negative both mean "none".
func limit(a, b int64) bool { return a == b || a <= 0 && b <= 0 }

// sameBucket compares the settings Buckets sets.
func sameBucket(have jetstream.KeyValueStatus, want jetstream.KeyValueConfig) bool {
	cfg := have.Config()
	return cfg.History == want.History && cfg.TTL == want.TTL && cfg.Storage == want.Storage &&
		max(cfg.Replicas, 1) == max(want.Replicas, 1) && cfg.Description == want.Description
}

// Check reports whether every stream and bucket exists (for /readyz).
func Check(ctx context.Context, js jetstream.JetStream, c Config) error {
	for _, sc := range c.Streams() {
		if _, err := js.Stream(ctx, sc.Name); err != nil {
			return fmt.Errorf("stream %s: %w", sc.Name, err)
		}
	}
	for _, kc := range c.Buckets() {
		if _, err := js.KeyValue(ctx, kc.Bucket); err != nil {
			return fmt.Errorf("bucket %s: %w", kc.Bucket, err)
		}
	}
	return nil
}

// EnsureRetry calls Ensure until it succeeds, backing off from 100 ms to
// 5 s and logging each failure at Warn, so that a stage can start before its
// NATS server. It reports false when ctx ended first.
func EnsureRetry(ctx context.Context, js jetstream.JetStream, c Config, log *slog.Logger) bool {
	delay := 100 * time.Millisecond
	for {
		ectx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := Ensure(ectx, js, c)
		cancel()
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		log.Warn("ensuring streams failed, retrying", "err", err, "retry_in", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		delay = min(2*delay, 5*time.Second)
	}
}
