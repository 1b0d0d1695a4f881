package egress

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/consume"
	"github.com/relaybus/relaybus/pkg/descriptor"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/services/egress/internal/scopes"
)

// Result codes egress sets itself (besides the connector's).
const (
	// codeExpired marks an action that never reached the connector before
	// its deadline.
	codeExpired = events.ReasonExpired
)

// undelivered is the error a handler returns to have the action retried.
type undelivered struct {
	reason string
	cause  error
}

func (e *undelivered) Error() string { return ErrNotDelivered.Error() + ": " + e.cause.Error() }
func (e *undelivered) Unwrap() []error {
	return []error{ErrNotDelivered, e.cause}
}

// job is one action being handled.
type job struct {
	msg      jetstream.Msg
	id       string
	op       string // for metrics: a known op or "unknown"
	stored   time.Time
	deadline time.Time
}

// handle processes one action delivery; see the package doc for the rules.
func (s *Service) handle(ctx context.Context, msg jetstream.Msg) error {
	md, err := msg.Metadata()
	if err != nil {
		return consume.Permanent(&events.ActionError{Reason: events.ReasonBadEncoding, Detail: "not a JetStream message"})
	}
	hdr := msg.Headers()
	j := &job{msg: msg, stored: md.Timestamp}
	j.id = hdr.Get(events.MsgIDHeader)
	if j.id == "" {
		// Stable across redeliveries: the stream position and store time.
		j.id = "gen-" + strconv.FormatUint(md.Sequence.Stream, 10) + "-" + strconv.FormatInt(md.Timestamp.UnixNano(), 36)
	}
	subjectOp, _ := events.UnToken(strings.TrimPrefix(msg.Subject(), events.OutboundSubjectPrefix))
	j.op = "unknown"
	if events.KnownOp(subjectOp) {
		j.op = subjectOp
	}
	j.deadline = j.stored.Add(s.cfg.ActionDeadline)
	if v := hdr.Get(events.DeadlineHeader); v != "" {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			j.deadline = t
		} else {
			s.log.Debug("bad deadline header ignored", "action_id", j.id, "value", v)
		}
	}

	// A redelivery may follow a crash between publishing the result and
	// acking: answer it from the stored result instead of sending again.
	if md.NumDelivered > 1 {
		replayed, err := s.replayResult(ctx, j)
		if err != nil {
			s.metrics.retries.WithLabelValues(retryPublish).Inc()
			return err
		}
		if replayed {
			s.metrics.actions.WithLabelValues(j.op, outcomeReplayed).Inc()
			return nil
		}
	}

	a, err := events.DecodeAction(msg.Data(), hdr.Get(events.ContentTypeHeader), subjectOp)
	if err != nil {
		return s.reject(ctx, j, err)
	}
	if s.now().After(j.deadline) {
		return s.expire(ctx, j, "deadline passed before the first attempt")
	}

	scopePlatform := s.attachScope(ctx, &a)
	if a.Op == events.OpGetChatInfo {
		return s.settle(ctx, j, outcomeUnsupported, events.SendResult{
			Error: "op get_chat_info is not on the bus: request " + events.ChatInfoSubject,
			Code:  events.ReasonOpUnsupported,
		}, nil)
	}
	d := s.descriptorFor(a.Platform, scopePlatform)
	if a.Op != events.OpInterrupt && !d.SupportsOp(a.Op) {
		return s.settle(ctx, j, outcomeUnsupported, events.SendResult{
			Error: "op " + a.Op + " not supported by the connector",
			Code:  events.ReasonOpUnsupported,
		}, nil)
	}

	res, err := s.deliver(ctx, j, &a, d)
	if err != nil {
		var ud *undelivered
		if !errors.As(err, &ud) {
			return s.reject(ctx, j, err)
		}
		if !s.now().Before(j.deadline) {
			return s.expire(ctx, j, ud.cause.Error())
		}
		s.metrics.retries.WithLabelValues(ud.reason).Inc()
		s.metrics.actions.WithLabelValues(j.op, outcomeRetry).Inc()
		s.log.Debug("action not delivered, will retry", "action_id", j.id, "op", a.Op, "reason", ud.reason)
		return err
	}
	switch {
	case res.Success:
		return s.settle(ctx, j, outcomeSent, res, nil)
	case res.Declined():
		return s.settle(ctx, j, outcomeDeclined, res, &events.ActionError{Reason: events.ReasonDeclined, Detail: res.Error})
	case res.Ambiguous:
		return s.settle(ctx, j, outcomeAmbiguous, res, nil)
	default:
		return s.settle(ctx, j, outcomeFailed, res, nil)
	}
}

// settle publishes a definitive result; with dead set, the action is then
// dead-lettered with that cause, else acked.
func (s *Service) settle(ctx context.Context, j *job, outcome string, res events.SendResult, dead error) error {
	if err := s.publishResult(ctx, j.id, res); err != nil {
		s.metrics.retries.WithLabelValues(retryPublish).Inc()
		return err
	}
	s.metrics.actions.WithLabelValues(j.op, outcome).Inc()
	s.metrics.latency.Observe(s.now().Sub(j.stored).Seconds())
	s.log.Debug("action settled", "action_id", j.id, "op", j.op, "outcome", outcome, "code", res.Code)
	if dead != nil {
		return consume.Permanent(dead)
	}
	return nil
}

// reject answers an invalid action with a failed result naming the field,
// then dead-letters it.
func (s *Service) reject(ctx context.Context, j *job, err error) error {
	return s.settle(ctx, j, outcomeInvalid, events.SendResult{Error: err.Error(), Code: events.Reason(err)}, err)
}

// expire answers an action whose deadline passed undelivered, then
// dead-letters it.
func (s *Service) expire(ctx context.Context, j *job, why string) error {
	return s.settle(ctx, j, outcomeExpired,
		events.SendResult{Error: events.ErrTextNotConnected, Code: codeExpired},
		&events.ActionError{Reason: events.ReasonExpired, Detail: "deadline " + j.deadline.UTC().Format(time.RFC3339) + " passed: " + why})
}

// publishResult stores the result in RELAY_RESULTS (which also delivers it
// to the agent's core subscription on relay.results.<id>).
func (s *Service) publishResult(ctx context.Context, id string, res events.SendResult) error {
	data, err := events.Marshal(res, events.ContentTypeMsgpack)
	if err != nil {
		return fmt.Errorf("encoding result: %w", err)
	}
	m := &nats.Msg{Subject: events.ResultsSubject(id), Data: data, Header: nats.Header{
		events.ContentTypeHeader: {events.ContentTypeMsgpack},
		events.TypeHeader:        {events.TypeSendResult},
		events.ActionIDHeader:    {id},
		events.MsgIDHeader:       {"res:" + id},
	}}
	if _, err := s.js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("publishing result: %w", err)
	}
	return nil
}

// replayResult re-publishes the stored result of an action that was already
// settled, reporting whether there was one.
func (s *Service) replayResult(ctx context.Context, j *job) (bool, error) {
	st, err := s.resultsStream(ctx)
	if err != nil {
		return false, err
	}
	raw, err := st.GetLastMsgForSubject(ctx, events.ResultsSubject(j.id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	if err != nil {
		s.dropResultsStream()
		return false, fmt.Errorf("looking up stored result: %w", err)
	}
	m := &nats.Msg{Subject: raw.Subject, Data: raw.Data, Header: raw.Header}
	// The stream absorbs it (same Nats-Msg-Id, or one result per subject);
	// the agent's subscription sees it again.
	if _, err := s.js.PublishMsg(ctx, m); err != nil {
		return false, fmt.Errorf("re-publishing stored result: %w", err)
	}
	s.log.Debug("redelivered action answered from stored result", "action_id", j.id)
	return true, nil
}

// primaryPlatform is the configured primary platform, else the first
// stored descriptor's.
func (s *Service) primaryPlatform() string {
	if s.cfg.PrimaryPlatform != "" {
		return s.cfg.PrimaryPlatform
	}
	if d, ok := s.descs.Primary(); ok {
		return d.Platform
	}
	return ""
}

// descriptorFor picks the descriptor of the action's platform, else of the
// chat's platform, else the primary one; with none stored yet, the
// placeholder.
func (s *Service) descriptorFor(actionPlatform, scopePlatform string) descriptor.Descriptor {
	for _, p := range []string{actionPlatform, scopePlatform} {
		if p == "" {
			continue
		}
		if d, ok := s.descs.Get(p); ok {
			return d
		}
		return descriptor.Placeholder(p)
	}
	if s.cfg.PrimaryPlatform != "" {
		if d, ok := s.descs.Get(s.cfg.PrimaryPlatform); ok {
			return d
		}
	}
	if d, ok := s.descs.Primary(); ok {
		return d
	}
	return descriptor.Placeholder(s.cfg.PrimaryPlatform)
}

// attachScope re-attaches the chat's routing scope to a chat-addressed
// action's metadata (contract §6) and returns the chat's platform when the
// scope is known.
func (s *Service) attachScope(ctx context.Context, a *events.Action) string {
	mirrorScope(a)
	if !events.ChatAddressed(a.Op) {
		return ""
	}
	primary := s.primaryPlatform()
	rec, outcome := s.scopes.Lookup(a.ChatID, a.Platform, primary)
	switch outcome {
	case scopes.Hit:
		s.metrics.scopeHits.Add(1)
	case scopes.Ambiguous:
		s.metrics.scopeMisses.Add(1)
		s.log.Debug("chat known on several platforms, scope not attached", "chat_id", a.ChatID)
		return ""
	default:
		s.metrics.scopeMisses.Add(1)
		var ok bool
		if rec, ok = s.fetchScope(ctx, a.ChatID, a.Platform, primary); !ok {
			return ""
		}
	}
	applyScope(a, rec.Scope)
	return rec.Platform
}

// mirrorScope makes an explicit scope_id / guild_id (the caller's) carry
// the same value under both keys.
func mirrorScope(a *events.Action) {
	explicit := a.MetadataString("scope_id")
	if explicit == "" {
		explicit = a.MetadataString("guild_id")
	}
	a.SetMetadataDefault("scope_id", explicit)
	a.SetMetadataDefault("guild_id", explicit)
}

// applyScope adds what the caller did not set: scope_id and guild_id (same
// value), user_id for DMs and whenever no scope_id routes the action
// (author-first routing), and profile.
func applyScope(a *events.Action, sc events.Scope) {
	a.SetMetadataDefault("scope_id", sc.ScopeID)
	a.SetMetadataDefault("guild_id", sc.ScopeID)
	if sc.ChatType == events.ChatDM || a.MetadataString("scope_id") == "" {
		a.SetMetadataDefault("user_id", sc.UserID)
	}
	a.SetMetadataDefault("profile", sc.Profile)
}

// fetchScope answers a cache miss with one KV get (a reply can race the
// converter's scope write past the watcher). It needs a platform: the
// action's, else the primary one.
func (s *Service) fetchScope(ctx context.Context, chatID, platform, primary string) (scopes.Record, bool) {
	if platform == "" {
		platform = primary
	}
	if platform == "" {
		return scopes.Record{}, false
	}
	kv, err := s.scopeBucket(ctx)
	if err != nil {
		s.metrics.scopeGets.WithLabelValues("error").Inc()
		return scopes.Record{}, false
	}
	e, err := kv.Get(ctx, events.ScopeKey(platform, chatID))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		s.metrics.scopeGets.WithLabelValues("not_found").Inc()
		return scopes.Record{}, false
	case err != nil:
		s.metrics.scopeGets.WithLabelValues("error").Inc()
		s.dropScopeBucket()
		s.log.Debug("scope get failed", "chat_id", chatID, "err", err)
		return scopes.Record{}, false
	}
	sc, err := scopes.DecodeValue(e.Value())
	if err != nil {
		s.metrics.scopeGets.WithLabelValues("error").Inc()
		return scopes.Record{}, false
	}
	s.metrics.scopeGets.WithLabelValues("found").Inc()
	rec := scopes.Record{Platform: platform, ChatID: chatID, Scope: sc, Revision: e.Revision()}
	s.scopes.Merge(rec)
	return rec, true
}

// resultsStream returns the RELAY_RESULTS handle, opened once (and again
// after a failed lookup, in case the stream was re-created).
func (s *Service) resultsStream(ctx context.Context) (jetstream.Stream, error) {
	s.kvMu.Lock()
	defer s.kvMu.Unlock()
	if s.results != nil {
		return s.results, nil
	}
	st, err := s.js.Stream(ctx, bus.ResultsStream)
	if err != nil {
		return nil, fmt.Errorf("opening results stream: %w", err)
	}
	s.results = st
	return st, nil
}

func (s *Service) dropResultsStream() {
	s.kvMu.Lock()
	s.results = nil
	s.kvMu.Unlock()
}

func (s *Service) scopeBucket(ctx context.Context) (jetstream.KeyValue, error) {
	s.kvMu.Lock()
	defer s.kvMu.Unlock()
	if s.scopeKV != nil {
		return s.scopeKV, nil
	}
	kv, err := s.js.KeyValue(ctx, events.ScopeBucket)
	if err != nil {
		return nil, err
	}
	s.scopeKV = kv
	return kv, nil
}

func (s *Service) dropScopeBucket() {
	s.kvMu.Lock()
	s.scopeKV = nil
	s.kvMu.Unlock()
}

// deliver sends the action to the connector through ws-edge, as several
// ordered sends when a send's content exceeds the platform's limit. An
// *undelivered error means nothing reached the connector and the action
// may be retried; any other error is a bad action.
func (s *Service) deliver(ctx context.Context, j *job, a *events.Action, d descriptor.Descriptor) (events.SendResult, error) {
	if a.Op != events.OpSend || d.Len(a.Content) <= d.MaxLen() {
		s.metrics.parts.Observe(1)
		return s.request(ctx, j, a)
	}
	parts := d.Split(a.Content)
	s.metrics.parts.Observe(float64(len(parts)))
	var first events.SendResult
	var ids []string
	for i, text := range parts {
		p := *a
		p.Content = text
		if i > 0 {
			p.ReplyTo = nil
			// Each part may take up to EdgeTimeout: restart the ack wait.
			_ = j.msg.InProgress()
		}
		r, err := s.request(ctx, j, &p)
		if err != nil || !r.Success {
			if i == 0 {
				return r, err // nothing sent yet: the whole action is retried or reported
			}
			// A later part failed: what was sent stays sent. Report the
			// failure with the ids so far; never resend on redelivery.
			if err != nil {
				r = events.SendResult{Error: events.ErrTextNotConnected}
				var ud *undelivered
				if errors.As(err, &ud) {
					r.Error = ud.cause.Error()
				}
			}
			r.Success = false
			r.Error = fmt.Sprintf("part %d of %d not sent: %s", i+1, len(parts), r.Error)
			r.MessageID = first.MessageID
			r.ThreadID = first.ThreadID
			r.ContinuationMessageIDs = ids
			return r, nil
		}
		if i == 0 {
			first = r
			continue
		}
		ids = append(ids, r.MessageID)
	}
	first.ContinuationMessageIDs = ids
	return first, nil
}

// progressMargin is how much longer than one edge request the ack wait
// must be for egress to skip progress reports during a request.
const progressMargin = 10 * time.Second

var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// request makes one relay.edge.outbound request.
func (s *Service) request(ctx context.Context, j *job, a *events.Action) (events.SendResult, error) {
	bp := bodyPool.Get().(*[]byte)
	defer bodyPool.Put(bp)
	body, err := a.AppendJSON((*bp)[:0])
	if err != nil {
		return events.SendResult{}, err
	}
	*bp = body
	m := &nats.Msg{Subject: events.EdgeOutboundSubject, Data: body, Header: nats.Header{events.ActionIDHeader: {j.id}}}
	if a.Platform != "" {
		m.Header[events.PlatformHeader] = []string{a.Platform}
	}
	if a.BotID != "" {
		m.Header[events.BotIDHeader] = []string{a.BotID}
	}

	// Keep the action ours while the request may outlast the ack wait.
	if s.cfg.EdgeTimeout+progressMargin > s.cfg.AckWait {
		defer keepInProgress(j.msg, s.cfg.AckWait/2)()
	}
	rctx, cancel := context.WithTimeout(ctx, s.cfg.EdgeTimeout)
	reply, err := s.nc.RequestMsgWithContext(rctx, m)
	cancel()
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return events.SendResult{}, &undelivered{reason: retryNoResponders, cause: errors.New("no ws-edge is answering")}
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
		return events.SendResult{}, &undelivered{reason: retryTimeout, cause: fmt.Errorf("no ws-edge answered within %v", s.cfg.EdgeTimeout)}
	case err != nil:
		return events.SendResult{}, &undelivered{reason: retryOther, cause: err}
	}
	res, err := events.ParseResult(reply.Data)
	if err != nil {
		// ws-edge answered, so the frame may have been written.
		return events.SendResult{Error: "unreadable result from ws-edge", Ambiguous: true}, nil
	}
	if res.Transient() {
		reason := retryNotConnected
		if res.Error == events.ErrTextConnLost {
			reason = retryConnLost
		}
		return res, &undelivered{reason: reason, cause: errors.New(res.Error)}
	}
	return res, nil
}

// keepInProgress tells the server every interval that msg is still being
// worked on, from the first interval on, until the returned stop is called.
// Fast requests only cost a timer that never fires.
func keepInProgress(msg jetstream.Msg, every time.Duration) (stop func()) {
	done := make(chan struct{})
	t := time.AfterFunc(every, func() {
		tk := time.NewTicker(every)
		defer tk.Stop()
		for {
			_ = msg.InProgress()
			select {
			case <-done:
				return
			case <-tk.C:
			}
		}
	})
	return func() {
		if !t.Stop() {
			close(done)
		}
	}
}
