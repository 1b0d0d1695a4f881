package converter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/consume"
	"github.com/relaybus/relaybus/internal/natsconn"
	"github.com/relaybus/relaybus/internal/stage"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/wire"
	"github.com/relaybus/relaybus/services/passthrough-converter/internal/discord"
	"github.com/relaybus/relaybus/services/passthrough-converter/internal/twilio"
)

// Deps are the converter's collaborators (see [stage.Deps]): NC is
// required, Run drains it on the way out.
type Deps = stage.Deps

// Service is a running converter replica.
type Service struct {
	stage.Base
	cfg     Config
	loop    *consume.Loop
	metrics *metrics

	// scopeKV (relay_scope) and inbound (RELAY_INBOUND, read for a
	// redelivered frame) are opened on first use, and again after a
	// failure.
	scopeKV *bus.Lazy[jetstream.KeyValue]
	inbound *bus.Lazy[jetstream.Stream]

	scopes *scopeCache
	// pub publishes the events (made by Run, closed when it returns).
	pub *bus.Publisher
}

// New returns a converter; Run starts it.
func New(cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base, err := stage.NewBase(deps, ErrInvalidConfig)
	if err != nil {
		return nil, err
	}
	s := &Service{Base: base, cfg: cfg, scopeKV: bus.LazyKV(base.JS, events.ScopeBucket), inbound: bus.LazyStream(base.JS, events.InboundStream)}
	if s.metrics, err = newMetrics(s.Reg); err != nil {
		return nil, err
	}
	s.scopes = newScopeCache(cfg.ScopeCacheSize)
	// Each chat's frames in order, with any number of replicas: one
	// partition of RELAY_RAW per pinned consumer, its chats in order
	// (docs/adr/0001-bus-contract.md, §13).
	unkeyed, partition := cfg.Bus.Partitioning(events.RawPartitions)
	filter := events.RawSubjects
	if unkeyed != "" {
		filter = unkeyed
	}
	s.loop, err = consume.New(s.JS, events.StageConverter, s.Reg, consume.Config{
		Stream:          events.RawStream,
		Durable:         cfg.Durable,
		FilterSubjects:  []string{filter},
		Partitions:      cfg.Bus.Partitions,
		PartitionFilter: partition,
		Key:             rawChat,
		Workers:         cfg.Workers,
		MaxDeliver:      cfg.MaxDeliver,
		AckWait:         cfg.AckWait,
		Grace:           cfg.ShutdownTimeout,
		Ensure:          func(ctx context.Context) error { return bus.Ensure(ctx, s.JS, cfg.Bus) },
		Log:             s.Log,
	}, s.handle)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Run converts until ctx is done, then finishes in-flight frames, stops the
// micro service, drains the NATS connection and returns.
//
// The streams are ensured first (retried until NATS is there), then the
// micro service is registered and the consume loop started. It returns nil
// after a clean shutdown and an error when the stage cannot start (micro
// registration refused). It serves no ops port: the process's lifecycle
// (package stage) serves Live, Ready and the metrics, and says not-ready
// until the streams exist and the consumer runs.
func (s *Service) Run(ctx context.Context) error {
	defer func() {
		if err := natsconn.Drain(s.NC, s.cfg.ShutdownTimeout); err != nil {
			s.Log.Warn("nats drain incomplete", "err", err)
		}
		s.Log.Info("converter stopped")
	}()
	return s.runStage(ctx)
}

// runStage ensures the streams, registers the micro service and consumes
// until ctx is done.
func (s *Service) runStage(ctx context.Context) error {
	if !bus.EnsureRetry(ctx, s.JS, s.cfg.Bus, s.Log) {
		return nil // ctx done before NATS was there
	}
	pub, err := bus.NewPublisher(s.NC, 0)
	if err != nil {
		return err
	}
	defer pub.Close() // after the loop: its handlers are done
	s.pub = pub
	msvc, err := micro.AddService(s.NC, micro.Config{
		Name:        "relay-passthrough-converter",
		Version:     s.cfg.Version,
		Description: "relaybus: raw connector frames -> MessageEvents",
		// nats micro stats relay-passthrough-converter: the partitions each
		// replica holds.
		StatsHandler: func(*micro.Endpoint) any { return map[string]any{"partitions": s.loop.Held()} },
	})
	if err != nil {
		return fmt.Errorf("registering micro service: %w", err)
	}
	defer func() { _ = msvc.Stop() }()
	if err := msvc.AddEndpoint("status", micro.HandlerFunc(func(r micro.Request) {
		b, _ := json.Marshal(map[string]any{"scope_cache": s.scopes.len(), "ready": s.Ready(context.Background()) == nil,
			"partitions": s.loop.Held()})
		_ = r.Respond(b)
	}), micro.WithEndpointSubject("relay.converter.status")); err != nil {
		return fmt.Errorf("registering status endpoint: %w", err)
	}
	s.Log.Info("converter running", "consumer", s.cfg.Durable, "workers", s.cfg.Workers)
	return s.loop.Run(ctx)
}

// Partitions returns the partitions of RELAY_RAW this replica holds.
func (s *Service) Partitions() []int { return s.loop.Held() }

// Ready reports readiness: NATS connected, streams present, consumer live.
func (s *Service) Ready(ctx context.Context) error {
	if !s.NC.IsConnected() {
		return errors.New("nats not connected")
	}
	if err := bus.Check(ctx, s.JS, s.cfg.Bus); err != nil {
		return err
	}
	return s.loop.Ready()
}

// Live reports liveness (the process can make progress).
func (s *Service) Live(ctx context.Context) error {
	if s.NC.IsClosed() {
		return errors.New("nats connection closed")
	}
	return nil
}

// rawChat is the ordering key of a raw frame: the chat ws-edge named
// (Relay-Chat), or for a frame stored without it (by an older ws-edge, or
// by hand) the chat read from the frame.
func rawChat(m jetstream.Msg) string {
	if chat := m.Headers().Get(events.ChatHeader); chat != "" {
		return chat
	}
	return events.SubjectToken(wire.ChatKey(events.SubjectKind(m.Subject()), m.Data()))
}

// handle converts one raw frame.
func (s *Service) handle(ctx context.Context, msg jetstream.Msg) error {
	if events.SubjectKind(msg.Subject()) == wire.FramePassthroughForward {
		// The hot path: envelope and forward decoded in one pass.
		s.metrics.observeLag(msg.Headers().Get(events.ReceivedAtHeader), s.Now())
		fwd, body, err := wire.DecodeForwardBody(msg.Data())
		if err != nil {
			s.metrics.dropped.WithLabelValues(events.Reason(err)).Inc()
			return consume.Permanent(err)
		}
		return s.handleForward(ctx, msg, fwd, body)
	}
	frame, err := wire.DecodeFrame(msg.Data())
	if err != nil {
		s.metrics.dropped.WithLabelValues(events.Reason(err)).Inc()
		return consume.Permanent(err)
	}
	s.metrics.observeLag(msg.Headers().Get(events.ReceivedAtHeader), s.Now())
	switch frame.Type {
	case wire.FrameInbound:
		ev, err := wire.DecodeInboundEvent(frame.Event)
		if err != nil {
			s.metrics.dropped.WithLabelValues(events.Reason(err)).Inc()
			return consume.Permanent(err)
		}
		return s.publishEvent(ctx, msg, &ev, "inbound")
	case wire.FramePassthroughForward:
		// Stored under another subject than ws-edge uses; same handling.
		fwd, err := wire.DecodeForward(frame.Forward)
		if err != nil {
			s.metrics.dropped.WithLabelValues(events.Reason(err)).Inc()
			return consume.Permanent(err)
		}
		body, err := fwd.Body()
		if err != nil {
			s.metrics.dropped.WithLabelValues(events.Reason(err)).Inc()
			return consume.Permanent(err)
		}
		return s.handleForward(ctx, msg, fwd, body)
	case wire.FrameInterruptInbound:
		return s.publishInterrupt(ctx, msg, frame)
	default:
		s.metrics.dropped.WithLabelValues("unknown_type").Inc()
		s.Log.Debug("frame type not converted", "frame_type", frame.Type)
		return nil
	}
}

// handleForward converts a forward whose body is decoded (its BodyB64 may
// be empty: see wire.DecodeForwardBody).
func (s *Service) handleForward(ctx context.Context, msg jetstream.Msg, fwd wire.PassthroughForward, body []byte) error {
	var ev events.MessageEvent
	var kind string
	var err error
	switch fwd.Platform {
	case "discord":
		ev, err = discord.Convert(body, fwd)
		switch {
		case errors.Is(err, discord.ErrPing):
			s.metrics.dropped.WithLabelValues("ping").Inc()
			return nil
		case errors.Is(err, discord.ErrAutocomplete):
			s.metrics.dropped.WithLabelValues("autocomplete").Inc()
			return nil
		case err != nil:
			// The dead-letter writer removes the token from the stored body.
			s.metrics.dropped.WithLabelValues(events.Reason(err)).Inc()
			return consume.Permanent(err)
		}
		kind = "discord_" + interactionKind(&ev)
	case "twilio":
		if ev, err = twilio.Convert(body, fwd); err != nil {
			s.metrics.dropped.WithLabelValues(events.Reason(err)).Inc()
			return consume.Permanent(err)
		}
		kind = "twilio"
	default:
		s.metrics.dropped.WithLabelValues(events.ReasonUnsupported).Inc()
		return consume.Permanent(&events.FrameError{
			Reason: events.ReasonUnsupported, Field: "forward.platform",
			Detail: fmt.Sprintf("platform %q (path %q) is not converted", fwd.Platform, fwd.Path),
		})
	}
	return s.publishEvent(ctx, msg, &ev, kind)
}

func interactionKind(ev *events.MessageEvent) string {
	if ev.Interaction == nil {
		return "interaction"
	}
	switch ev.Interaction.Kind {
	case "application_command":
		return "command"
	case "message_component":
		return "component"
	case "modal_submit":
		return "modal"
	}
	return "interaction"
}

// outputID derives an output's Nats-Msg-Id from its input, so that a
// redelivered raw frame produces the same id and JetStream drops the copy.
func outputID(prefix string, msg jetstream.Msg) string {
	if id := msg.Headers().Get(events.MsgIDHeader); id != "" {
		return prefix + id
	}
	return prefix + bus.MsgDedupID(msg)
}

func (s *Service) publishEvent(ctx context.Context, in jetstream.Msg, ev *events.MessageEvent, kind string) error {
	ev.Normalize()
	if ev.Source.ChatID != "" {
		if err := s.recordScope(ctx, ev); err != nil {
			return err
		}
	}
	data, err := events.Marshal(ev, events.ContentTypeMsgpack)
	if err != nil {
		return consume.Permanent(fmt.Errorf("encoding event: %w", err))
	}
	out := nats.NewMsg(events.InboundMessageSubject(ev.Source.Platform, ev.Source.ChatID))
	out.Data = data
	out.Header.Set(events.ContentTypeHeader, events.ContentTypeMsgpack)
	out.Header.Set(events.TypeHeader, events.TypeMessageEvent)
	out.Header.Set(events.SessionKeyHeader, ev.SessionKey)
	out.Header.Set(events.MsgIDHeader, outputID("ev:", in))
	if t := in.Headers().Get(events.ReceivedAtHeader); t != "" {
		out.Header.Set(events.ReceivedAtHeader, t)
	}
	setRawPosition(ctx, out, in)
	return s.publish(ctx, out, kind)
}

// publish stores an output and settles its input once it is stored: the
// input is acked only then (at-least-once; the derived Nats-Msg-Id absorbs
// a redelivery's copy). In the consume loop the worker does not wait for
// the PubAck (consume.Later): it takes other chats meanwhile, and this
// input's chat is held until the outcome, so a chat's outputs are stored in
// order even when one publish fails and is retried.
func (s *Service) publish(ctx context.Context, out *nats.Msg, kind string) error {
	stored := func(err error) error {
		if err != nil {
			return fmt.Errorf("publishing %s: %w", kind, err)
		}
		s.metrics.converted.WithLabelValues(kind).Inc()
		if s.Log.Enabled(ctx, slog.LevelDebug) {
			s.Log.Debug("event published", "subject", out.Subject, "kind", kind,
				"msg_id", out.Header.Get(events.MsgIDHeader), "raw_seq", out.Header.Get(events.RawSeqHeader))
		}
		return nil
	}
	// Guarded: the arguments of a disabled Debug are still built (boxed,
	// the header read) once per event.
	if s.Log.Enabled(ctx, slog.LevelDebug) {
		s.Log.Debug("publishing event", "subject", out.Subject, "kind", kind, "attempt", consume.Attempt(ctx),
			"msg_id", out.Header.Get(events.MsgIDHeader), "raw_seq", out.Header.Get(events.RawSeqHeader))
	}
	if consume.Attempt(ctx) > 1 && s.storedBefore(ctx, out) {
		s.metrics.dropped.WithLabelValues(reasonAlreadyStored).Inc()
		s.Log.Debug("output of a redelivered frame already stored", "subject", out.Subject, "kind", kind)
		return nil
	}
	if done := consume.Later(ctx); done != nil {
		if err := s.pub.PublishFunc(ctx, out, func(_ uint64, err error) { done(stored(err)) }); err != nil {
			done(stored(err))
		}
		return nil
	}
	_, err := s.pub.Publish(ctx, out)
	return stored(err)
}

// setRawPosition copies the input's RELAY_RAW sequence and stored time onto
// out (Relay-Raw-Seq, Relay-Raw-Stored-At): a debugging aid, so that an
// event stored out of its chat's order shows whether its frame was stored
// out of order too (ws-edge) or only its event (the converter).
func setRawPosition(ctx context.Context, out *nats.Msg, in jetstream.Msg) {
	md := consume.Metadata(ctx)
	if md == nil {
		var err error
		if md, err = in.Metadata(); err != nil {
			return
		}
	}
	out.Header.Set(events.RawSeqHeader, strconv.FormatUint(md.Sequence.Stream, 10))
	out.Header.Set(events.RawStoredAtHeader, md.Timestamp.UTC().Format(time.RFC3339Nano))
}

// reasonAlreadyStored counts a redelivered frame whose output was stored
// before (relay_converter_dropped_total).
const reasonAlreadyStored = "already_stored"

// storedBefore reports whether out, the output of a frame handled before (a
// redelivery after a converter died or lost its connection, or a retry
// after a publish whose outcome was unknown), is already stored: the last
// message on its subject carries its derived id. A frame's chat is held
// until its output is stored, so an output stored for it is the last of
// its subject (events and interrupts of a chat each have their own). This
// makes the redelivery harmless however late it comes, not only within
// RELAY_INBOUND's de-duplication window (RELAY_INBOUND_DUPLICATE_WINDOW).
// A failed lookup says false: the output is published, and the window
// still absorbs a copy within it.
func (s *Service) storedBefore(ctx context.Context, out *nats.Msg) bool {
	st, err := s.inbound.Get(ctx)
	if err != nil {
		return false
	}
	last, err := st.GetLastMsgForSubject(ctx, out.Subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false
	}
	if err != nil {
		s.inbound.Drop()
		return false
	}
	return last.Header.Get(events.MsgIDHeader) == out.Header.Get(events.MsgIDHeader)
}

func (s *Service) publishInterrupt(ctx context.Context, in jetstream.Msg, frame wire.Frame) error {
	it := events.Interrupt{SessionKey: frame.SessionKey, ChatID: frame.ChatID, Platform: sessionPlatform(frame.SessionKey)}
	data, err := events.Marshal(it, events.ContentTypeMsgpack)
	if err != nil {
		return consume.Permanent(err)
	}
	out := nats.NewMsg(events.InboundInterruptSubject(it.Platform, it.ChatID))
	out.Data = data
	out.Header.Set(events.ContentTypeHeader, events.ContentTypeMsgpack)
	out.Header.Set(events.TypeHeader, events.TypeInterrupt)
	out.Header.Set(events.SessionKeyHeader, it.SessionKey)
	out.Header.Set(events.MsgIDHeader, outputID("int:", in))
	setRawPosition(ctx, out, in)
	return s.publish(ctx, out, "interrupt")
}

// sessionPlatform reads the platform out of a session key
// ("agent:<ns>:<platform>:..."); "relay" when it has none.
func sessionPlatform(key string) string {
	parts := strings.SplitN(key, ":", 4)
	if len(parts) >= 3 && parts[0] == "agent" && parts[2] != "" {
		return parts[2]
	}
	return events.PlatformRelay
}
