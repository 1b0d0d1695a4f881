package egress

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"golang.org/x/sync/errgroup"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/consume"
	"github.com/relaybus/relaybus/internal/natsconn"
	"github.com/relaybus/relaybus/internal/stage"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/services/egress/internal/descriptors"
	"github.com/relaybus/relaybus/services/egress/internal/kvwatch"
	"github.com/relaybus/relaybus/services/egress/internal/scopes"
	"github.com/relaybus/relaybus/services/egress/internal/shard"
)

// Name is the service's name: its micro service registration is
// "relay-egress" and its durable consumer "egress".
const Name = "egress"

// StatusSubject is the micro endpoint that answers with a [Status].
const StatusSubject = "relay.egress.status"

// Status is the answer of the status endpoint: the sizes and state of the
// local caches and of the consumer.
type Status struct {
	ScopeEntries     int      `json:"scope_entries"`
	ScopeChats       int      `json:"scope_chats"`
	ScopeSynced      bool     `json:"scope_synced"`
	ScopeWatches     uint64   `json:"scope_watches"`
	Descriptors      int      `json:"descriptors"`
	DescriptorSynced bool     `json:"descriptor_synced"`
	Platforms        []string `json:"platforms"`
	PrimaryPlatform  string   `json:"primary_platform,omitempty"`
	ConsumerRunning  bool     `json:"consumer_running"`
	Workers          int      `json:"workers"`
	// Partitions are the partitions of RELAY_OUTBOUND this replica holds.
	Partitions []int `json:"partitions"`
}

// Deps are the service's collaborators (see [stage.Deps]): NC is
// required, Run drains it on the way out.
type Deps = stage.Deps

// Service is the egress stage. Create it with [New] and start it with
// [Service.Run]; Ready and Live are safe for concurrent use.
type Service struct {
	stage.Base
	cfg     Config
	metrics *metrics

	scopes     *scopes.Index
	descs      *descriptors.Table
	scopeWatch *kvwatch.Watcher
	descWatch  *kvwatch.Watcher
	loop       *consume.Loop
	// pub stores notes and results (made by Run, closed when it returns).
	pub *bus.Publisher

	// scopeKV (the relay_scope bucket, for cache-miss gets) and results
	// (RELAY_RESULTS, for redeliveries) are opened lazily, and again after
	// a failure.
	scopeKV *bus.Lazy[jetstream.KeyValue]
	results *bus.Lazy[jetstream.Stream]

	running atomic.Bool
}

// New checks cfg and builds the service; it does no I/O.
func New(cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base, err := stage.NewBase(deps, ErrNoConnection)
	if err != nil {
		return nil, err
	}
	s := &Service{Base: base, cfg: cfg, scopeKV: bus.LazyKV(base.JS, events.ScopeBucket), results: bus.LazyStream(base.JS, bus.ResultsStream)}
	s.scopes = scopes.New(cfg.ScopeCacheSize)
	s.descs = descriptors.New()
	s.scopeWatch = kvwatch.New(s.JS, events.ScopeBucket, s.scopes, s.Log)
	s.descWatch = kvwatch.New(s.JS, events.DescriptorBucket, s.descs, s.Log)
	if s.metrics, err = newMetrics(s.Reg, s); err != nil {
		return nil, err
	}
	// Each chat's actions in order, with any number of replicas: one
	// partition of RELAY_OUTBOUND per pinned consumer, its chats in order
	// (docs/adr/0001-bus-contract.md, §13). Actions published without a
	// chat token are shared, ordered per chat within a replica only.
	unkeyed, partition := cfg.Bus.Partitioning(events.OutboundPartitions)
	filter := events.OutboundSubjects
	if unkeyed != "" {
		filter = unkeyed
	}
	s.loop, err = consume.New(s.JS, events.StageEgress, s.Reg, consume.Config{
		Stream:          events.OutboundStream,
		Durable:         Name,
		FilterSubjects:  []string{filter},
		Partitions:      cfg.Bus.Partitions,
		PartitionFilter: partition,
		Workers:         cfg.Workers,
		AckWait:         cfg.AckWait,
		MaxDeliver:      -1, // egress enforces each action's deadline itself
		NakBase:         cfg.RetryBase,
		NakMax:          cfg.RetryMax,
		Grace:           cfg.ShutdownTimeout,
		Key:             shardKey,
		Ensure:          func(ctx context.Context) error { return bus.Ensure(ctx, s.JS, cfg.Bus) },
		Log:             s.Log,
	}, s.handle)
	if err != nil {
		return nil, fmt.Errorf("egress: %w", err)
	}
	return s, nil
}

// shardKey keeps one chat's actions in order: the chat the publisher
// named (Relay-Chat), or for an action published without it, the chat_id
// (or session key, for follow_up and interrupt) read from the action.
func shardKey(m jetstream.Msg) string {
	var ct string
	if h := m.Headers(); h != nil {
		if chat := h.Get(events.ChatHeader); chat != "" {
			return chat
		}
		ct = h.Get(events.ContentTypeHeader)
	}
	return shard.Key(m.Data(), ct)
}

// Run runs the stage until ctx is done, then stops taking actions, lets
// in-flight ones finish (bounded by ShutdownTimeout), stops the micro
// service and drains the NATS connection. It returns nil after a clean
// shutdown and an error only when the stage cannot start (micro
// registration refused). It serves no ops port: the process's lifecycle
// (package stage) serves Live, Ready and the metrics.
func (s *Service) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer func() {
		if err := natsconn.Drain(s.NC, s.cfg.ShutdownTimeout); err != nil {
			s.Log.Warn("nats drain incomplete", "err", err)
		}
	}()
	s.Log.Info("egress starting", "workers", s.cfg.Workers, "action_deadline", s.cfg.ActionDeadline, "edge_timeout", s.cfg.EdgeTimeout)
	err := s.runStage(ctx)
	s.Log.Info("egress stopping")
	return err
}

// runStage ensures streams (retried until NATS is there), registers the
// micro service, then runs the caches and the consumer until ctx is done.
func (s *Service) runStage(ctx context.Context) error {
	if !bus.EnsureRetry(ctx, s.JS, s.cfg.Bus, s.Log) {
		return nil
	}
	pub, err := bus.NewPublisher(s.NC, 0)
	if err != nil {
		return err
	}
	defer pub.Close() // after the loop: its handlers are done
	s.pub = pub
	svc, err := micro.AddService(s.NC, micro.Config{
		Name:        "relay-" + Name,
		Version:     s.cfg.Version,
		Description: "relaybus egress: agent reply actions to connector outbound frames",
		// nats micro stats relay-egress: the partitions each replica holds.
		StatsHandler: func(*micro.Endpoint) any { return map[string]any{"partitions": s.loop.Held()} },
	})
	if err != nil {
		return fmt.Errorf("egress: registering micro service: %w", err)
	}
	defer func() { _ = svc.Stop() }()
	if err := svc.AddEndpoint("status", micro.HandlerFunc(s.serveStatus), micro.WithEndpointSubject(StatusSubject)); err != nil {
		return fmt.Errorf("egress: adding status endpoint: %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.scopeWatch.Run(gctx) })
	g.Go(func() error { return s.descWatch.Run(gctx) })
	g.Go(func() error { return s.loop.Run(gctx) })
	return g.Wait()
}

// Ready reports whether the stage can take work: NATS connected, streams
// and buckets present, consumer running, both caches synced.
func (s *Service) Ready(ctx context.Context) error {
	if !s.NC.IsConnected() {
		return fmt.Errorf("%w: nats not connected (%v)", ErrNotReady, s.NC.Status())
	}
	if err := bus.Check(ctx, s.JS, s.cfg.Bus); err != nil {
		return fmt.Errorf("%w: %w", ErrNotReady, err)
	}
	if err := s.loop.Ready(); err != nil {
		return fmt.Errorf("%w: %w", ErrNotReady, err)
	}
	if !s.scopeWatch.Synced() {
		return fmt.Errorf("%w: scope cache not synced", ErrNotReady)
	}
	if !s.descWatch.Synced() {
		return fmt.Errorf("%w: descriptor cache not synced", ErrNotReady)
	}
	return nil
}

// Live reports whether the process is healthy: its NATS connection is not
// closed (a disconnected one reconnects by itself).
func (s *Service) Live(context.Context) error {
	if s.NC.IsClosed() {
		return errors.New("egress: nats connection closed")
	}
	return nil
}

// status returns the current Status.
func (s *Service) status() Status {
	return Status{
		ScopeEntries:     s.scopes.Len(),
		ScopeChats:       s.scopes.Chats(),
		ScopeSynced:      s.scopeWatch.Synced(),
		ScopeWatches:     s.scopeWatch.Watches(),
		Descriptors:      s.descs.Len(),
		DescriptorSynced: s.descWatch.Synced(),
		Platforms:        s.descs.Platforms(),
		PrimaryPlatform:  s.primaryPlatform(),
		ConsumerRunning:  s.loop.Ready() == nil,
		Workers:          s.cfg.Workers,
		Partitions:       s.loop.Held(),
	}
}

// Partitions returns the partitions of RELAY_OUTBOUND this replica holds.
func (s *Service) Partitions() []int { return s.loop.Held() }

func (s *Service) serveStatus(r micro.Request) {
	b, err := json.Marshal(s.status())
	if err != nil {
		_ = r.Error("500", "encoding status", nil)
		return
	}
	_ = r.Respond(b)
}
