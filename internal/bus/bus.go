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
	"github.com/relaybus/relaybus/pkg/backoff"
	"github.com/relaybus/relaybus/pkg/events"
)

// ErrInvalidConfig classifies configuration errors.
var ErrInvalidConfig = errors.New("bus: invalid config")

// OutboundMaxMsgSize bounds one action on RELAY_OUTBOUND: an agent's
// publish of a larger one fails. Egress bounds a send's split (EGRESS_MAX_PARTS)
// further.
const OutboundMaxMsgSize = 1 << 20

// ResultsStream keeps each action's definitive result for the duplicate
// window, so that egress can answer a redelivered action from it instead of
// sending it twice. It captures relay.results.> (which agents still read as
// plain core NATS subjects).
const ResultsStream = events.ResultsStream

// The ack log: ws-edge's compact, durable record of the bufferIds it acked
// (docs/adr/0001-bus-contract.md §7.1). It is repo-private plumbing between
// ws-edge replicas, not part of the agents' contract, so its names live
// here rather than in pkg/events.
const (
	// AckLogStream holds the ack batches for RELAY_DUPLICATE_WINDOW.
	AckLogStream = "RELAY_ACKLOG"
	// AckLogSubjectPrefix starts every ack log subject; the last token
	// names the ws-edge process that wrote it (AckLogSubject).
	AckLogSubjectPrefix = "relay.acklog."
	// AckLogSubjects is the ack log stream's subject filter.
	AckLogSubjects = AckLogSubjectPrefix + ">"
	// AckLogType is the Relay-Type of an ack batch, versioned as every
	// payload type is.
	AckLogType = "relaybus.acklog.v1.batch"
)

// AckLogSubject returns the ack log subject of one ws-edge process
// (writer: its instance id, made subject-safe).
func AckLogSubject(writer string) string {
	return AckLogSubjectPrefix + events.SubjectToken(writer)
}

// shortDuplicates is the server de-duplication window of streams whose
// ids only guard against a publish retried within moments: a retry after
// a lost PubAck, a replay racing a reconnect, a redelivery after an ack
// wait. Longer repeats are recognised on disk (the ack log, the stored
// results, the converter's look at the last event of a chat). The server
// keeps every id of the window in memory (~124 B each): with 30 s the
// all-in-one runs at 132–150 MB at 2,000 frames/s, 145–158 MB once
// RELAY_INBOUND is full (docs/performance.md, Memory); 2 min, the default
// until session 8, held ~25 MB more per stream.
const shortDuplicates = 30 * time.Second

// Config shapes the streams and buckets. Its variables are declared in
// [Config.Vars].
type Config struct {
	Replicas int // RELAY_STREAM_REPLICAS
	// DuplicateWindow is RELAY_DUPLICATE_WINDOW: the replay protection
	// horizon. A replayed bufferId or a repeated action id is recognised
	// for this long, held by the ack log (RELAY_ACKLOG's max age) and by
	// the stored results (RELAY_RESULTS' max age), not by the server's
	// in-memory de-duplication windows.
	DuplicateWindow time.Duration
	// RawDuplicateWindow and OutboundDuplicateWindow are the server
	// de-duplication windows of RELAY_RAW and RELAY_OUTBOUND
	// (RELAY_RAW_DUPLICATE_WINDOW, RELAY_OUTBOUND_DUPLICATE_WINDOW): short,
	// since the server keeps every id of the window in memory.
	RawDuplicateWindow, OutboundDuplicateWindow time.Duration
	// InboundDuplicateWindow is RELAY_INBOUND_DUPLICATE_WINDOW: the server
	// de-duplication window of RELAY_INBOUND, which absorbs the event a
	// converter publishes again for a redelivered frame (its derived id).
	InboundDuplicateWindow time.Duration
	// AckLogMaxBytes bounds RELAY_ACKLOG (RELAY_ACKLOG_MAX_BYTES).
	AckLogMaxBytes  int64
	InboundMaxAge   time.Duration // RELAY_INBOUND_MAX_AGE
	InboundMaxBytes int64         // RELAY_INBOUND_MAX_BYTES
	DLQMaxAge       time.Duration // RELAY_DLQ_MAX_AGE
	// RawMaxBytes and OutboundMaxBytes bound the work queues
	// (RELAY_RAW_MAX_BYTES, RELAY_OUTBOUND_MAX_BYTES). A full queue
	// refuses new messages (discard new) instead of dropping stored ones:
	// ws-edge stops acking the connector's buffered frames, which wait in
	// the connector's buffer; an agent's publish fails with the server's
	// error, and it retries.
	RawMaxBytes, OutboundMaxBytes int64
	// Partitions is RELAY_PARTITIONS: how many partitions RELAY_RAW and
	// RELAY_OUTBOUND are split into (0: none, one shared consumer).
	Partitions int
	// Memory selects memory storage (RELAY_STREAM_STORAGE=memory).
	Memory bool
}

// Vars declares the RELAY_* variables, bound to c's fields; every stage
// reads them with its own.
func (c *Config) Vars() []envconf.Var {
	return []envconf.Var{
		envconf.V("RELAY_STREAM_REPLICAS", &c.Replicas, 1,
			"replicas of every stream and bucket: 1, or 3 on a cluster").Min(1).Max(5),
		envconf.V("RELAY_DUPLICATE_WINDOW", &c.DuplicateWindow, time.Hour,
			"replay protection horizon: the longest gateway outage after which a replayed `bufferId` is still recognised "+
				"(kept in the ack log, `RELAY_ACKLOG`, on disk) and an action's result kept (`RELAY_RESULTS`), so that a repeated action id is answered from it. "+
				"It costs disk, about 8 B per frame, not memory; see docs/performance.md, Memory").Min(time.Second),
		envconf.V("RELAY_RAW_DUPLICATE_WINDOW", &c.RawDuplicateWindow, shortDuplicates,
			"the server's de-duplication window of `RELAY_RAW` (publish retries, replays racing a reconnect); "+
				"NATS keeps every id of it in memory, about 120 B each: at 2,000 frames/s, 30 s is ~7.5 MB. Longer replays are absorbed by ws-edge's ack log, "+
				"except a frame stored but not yet in the log when ws-edge died, or a publish retried across a NATS outage, replayed after the window: stored twice").Min(time.Second),
		envconf.V("RELAY_OUTBOUND_DUPLICATE_WINDOW", &c.OutboundDuplicateWindow, shortDuplicates,
			"the server's de-duplication window of `RELAY_OUTBOUND` (an agent's publish retried within moments); "+
				"an action id repeated later is answered by egress from its stored result. In memory, about 120 B per action").Min(time.Second),
		envconf.V("RELAY_INBOUND_DUPLICATE_WINDOW", &c.InboundDuplicateWindow, shortDuplicates,
			"the server's de-duplication window of `RELAY_INBOUND`: a frame the converter handles again "+
				"(a redelivery after a crash, a failover) is stored once if its event comes back within it. "+
				"Later, the converter finds the event as the last one of its chat. In memory, about 120 B per event: at 2,000 events/s, 30 s is ~7.5 MB").Min(time.Second),
		envconf.V("RELAY_ACKLOG_MAX_BYTES", &c.AckLogMaxBytes, 256<<20,
			"size bound of `RELAY_ACKLOG`, 256 MiB by default (8 B per acked frame plus about 100 B per batch: an hour at ~5,000 frames/s); "+
				"when full the oldest batches go first, shortening the replay protection horizon").Min(1 << 20),
		envconf.V("RELAY_INBOUND_MAX_AGE", &c.InboundMaxAge, 24*time.Hour,
			"how long events wait for agents on `RELAY_INBOUND`").Min(time.Minute),
		envconf.V("RELAY_INBOUND_MAX_BYTES", &c.InboundMaxBytes, 1<<30,
			"size bound of `RELAY_INBOUND`, 1 GiB by default; the oldest events are discarded first").Min(1 << 20),
		envconf.V("RELAY_PARTITIONS", &c.Partitions, events.DefaultPartitions,
			"partitions of `RELAY_RAW` and `RELAY_OUTBOUND`: each chat's messages go to one, consumed by one replica at a time, in order; "+
				"the most replicas of a stage that share the work. 0 turns partitioning off (one shared consumer, no order across replicas). "+
				"The same value for every service; change it only with both streams empty (docs/adr/0001-bus-contract.md, §13)").Min(0).Max(1024),
		envconf.V("RELAY_RAW_MAX_BYTES", &c.RawMaxBytes, 1<<30,
			"size bound of `RELAY_RAW`, 1 GiB by default; when full, new frames are refused (not acked, so the connector keeps them buffered) until the converter catches up").Min(1 << 20),
		envconf.V("RELAY_OUTBOUND_MAX_BYTES", &c.OutboundMaxBytes, 256<<20,
			"size bound of `RELAY_OUTBOUND`, 256 MiB by default; when full, agents' publishes fail until egress catches up").Min(1 << 20),
		envconf.V("RELAY_DLQ_MAX_AGE", &c.DLQMaxAge, 7*24*time.Hour,
			"how long dead letters are kept on `RELAY_DLQ`, 7 days by default").Min(time.Minute),
		envconf.Func("RELAY_STREAM_STORAGE", &c.Memory, false,
			"`file`, or `memory`: nothing survives a server restart, for benchmarks and throwaway setups only",
			func(s string) (bool, error) {
				switch s {
				case "file":
					return false, nil
				case "memory":
					return true, nil
				}
				return false, errors.New("file or memory")
			},
			func(memory bool) string { return map[bool]string{false: "file", true: "memory"}[memory] }),
	}
}

// DefaultConfig returns the production defaults.
func DefaultConfig() Config {
	var c Config
	envconf.Defaults(c.Vars()...)
	return c
}

// FromEnv overlays the RELAY_* variables on the defaults and validates the
// result.
func FromEnv(getenv func(string) string) (Config, error) {
	return envconf.Load(getenv, DefaultConfig(), (*Config).Vars, Config.Validate, ErrInvalidConfig)
}

// Validate checks the settings against their declared limits.
func (c Config) Validate() error {
	if err := envconf.Check(c.Vars()...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
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
// De-duplication ids outlive the messages for the server's window, which is
// short (the server holds every id of it in memory); replays beyond it are
// recognised by ws-edge's ack log (RELAY_ACKLOG) and repeated actions by
// their stored results (RELAY_RESULTS), both kept for DuplicateWindow.
func (c Config) Streams() []jetstream.StreamConfig {
	return []jetstream.StreamConfig{
		{
			Name:             events.RawStream,
			Description:      "connector data frames exactly as received (ws-edge -> converter)",
			Subjects:         []string{events.RawSubjects},
			SubjectTransform: c.transform(events.RawPartitions),
			Retention:        jetstream.WorkQueuePolicy,
			Discard:          jetstream.DiscardNew,
			MaxBytes:         c.RawMaxBytes,
			Storage:          c.storage(),
			Replicas:         c.Replicas,
			Duplicates:       c.RawDuplicateWindow,
			MaxMsgSize:       8 << 20,
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
			Duplicates:  min(c.InboundDuplicateWindow, c.InboundMaxAge), // the server refuses a window beyond the max age
		},
		{
			Name:             events.OutboundStream,
			Description:      "agents' reply actions (agents -> egress)",
			Subjects:         []string{events.OutboundSubjects},
			SubjectTransform: c.transform(events.OutboundPartitions),
			Retention:        jetstream.WorkQueuePolicy,
			Storage:          c.storage(),
			Replicas:         c.Replicas,
			Duplicates:       c.OutboundDuplicateWindow,
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
			Duplicates: min(shortDuplicates, c.DuplicateWindow), // the server refuses a window beyond the max age
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
		{
			// Batches of acked bufferIds' hashes (ws-edge). No message
			// carries a de-duplication id, so the stream costs the server
			// no memory per id, only disk.
			Name:        AckLogStream,
			Description: "bufferIds ws-edge acked, in batches, kept for the replay protection horizon (ws-edge -> ws-edge)",
			Subjects:    []string{AckLogSubjects},
			Retention:   jetstream.LimitsPolicy,
			Discard:     jetstream.DiscardOld,
			MaxAge:      c.DuplicateWindow,
			MaxBytes:    c.AckLogMaxBytes,
			Storage:     c.storage(),
			Replicas:    c.Replicas,
			Duplicates:  min(shortDuplicates, c.DuplicateWindow),
		},
	}
}

// transform returns a work stream's partitioning transform (nil without
// partitions).
func (c Config) transform(pt func(int) events.Partitioned) *jetstream.SubjectTransformConfig {
	if c.Partitions == 0 {
		return nil
	}
	p := pt(c.Partitions)
	return &jetstream.SubjectTransformConfig{Source: p.Source, Destination: p.Destination}
}

// Partitioning returns how a stage consumes a partitioned work stream
// (RawPartitions or OutboundPartitions): the unkeyed filter and each
// partition's; zero without partitions.
func (c Config) Partitioning(pt func(int) events.Partitioned) (unkeyed string, filter func(int) []string) {
	if c.Partitions == 0 {
		return "", nil
	}
	p := pt(c.Partitions)
	return p.Unkeyed, func(i int) []string { return []string{p.Filter(i)} }
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
		limit(int64(have.MaxMsgSize), int64(want.MaxMsgSize)) && have.Description == want.Description &&
		sameTransform(have.SubjectTransform, want.SubjectTransform)
}

func sameTransform(a, b *jetstream.SubjectTransformConfig) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
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
// 5 s (with jitter, package backoff) and logging each failure at Warn, so that a stage can start before its
// NATS server. It reports false when ctx ended first.
func EnsureRetry(ctx context.Context, js jetstream.JetStream, c Config, log *slog.Logger) bool {
	ladder := backoff.New(100*time.Millisecond, 5*time.Second, nil)
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
		delay := ladder.Next()
		log.Warn("ensuring streams failed, retrying", "err", err, "retry_in", delay)
		if !backoff.Sleep(ctx, delay) {
			return false
		}
	}
}
