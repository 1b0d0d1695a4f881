package egress

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/consume"
	"github.com/relaybus/relaybus/pkg/backoff"
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
	// noteBegun is set once the "begun" note was stored: it must be
	// superseded by a "not written" note before the retry.
	noteBegun bool
}

func (e *undelivered) Error() string { return ErrNotDelivered.Error() + ": " + e.cause.Error() }
func (e *undelivered) Unwrap() []error {
	return []error{ErrNotDelivered, e.cause}
}

// maxActionIDLen bounds an action id (its Nats-Msg-Id), as ws-edge bounds
// a bufferId.
const maxActionIDLen = 256

// job is one action being handled.
type job struct {
	msg      jetstream.Msg
	id       string
	op       string // for metrics: a known op or "unknown"
	stored   time.Time
	deadline time.Time
	// noteSeq is the sequence of the action's last before-write note when
	// this attempt began (0: none): the "begun" note is stored only if it
	// is still the last (startNote).
	noteSeq uint64
}

// handle processes one action delivery; see the package doc for the rules.
func (s *Service) handle(ctx context.Context, msg jetstream.Msg) error {
	md := consume.Metadata(ctx)
	if md == nil {
		var err error
		if md, err = msg.Metadata(); err != nil {
			return consume.Permanent(&events.ActionError{Reason: events.ReasonBadEncoding, Detail: "not a JetStream message"})
		}
	}
	hdr := msg.Headers()
	j := &job{msg: msg, stored: md.Timestamp}
	j.id = hdr.Get(events.MsgIDHeader)
	if j.id == "" {
		// Stable across redeliveries: the stream position and store time.
		j.id = "gen-" + strconv.FormatUint(md.Sequence.Stream, 10) + "-" + strconv.FormatInt(md.Timestamp.UnixNano(), 36)
	}
	subjectOp, _ := events.UnSubjectToken(events.SubjectKind(msg.Subject()))
	j.op = "unknown"
	if events.KnownOp(subjectOp) {
		j.op = subjectOp
	}
	j.deadline = j.stored.Add(s.cfg.ActionDeadline)
	if v := hdr.Get(events.DeadlineHeader); v != "" {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			j.deadline = t
		} else {
			s.Log.Debug("bad deadline header ignored", "action_id", j.id, "value", v)
		}
	}
	if latest := j.stored.Add(s.cfg.MaxDeadline); j.deadline.After(latest) {
		j.deadline = latest // bounded: a connector that is down must not pile actions up
	}

	// A redelivery (or an in-order retry) may follow a crash, or a failure,
	// between publishing the result and acking: answer it from the stored
	// result instead of sending again.
	if consume.Attempt(ctx) > 1 {
		replayed, err := s.replayResult(ctx, j)
		if err != nil {
			s.metrics.retries.WithLabelValues(retryPublish).Inc()
			return err
		}
		if replayed {
			s.metrics.actions.WithLabelValues(j.op, outcomeReplayed).Inc()
			return nil
		}
		// No result, but a replica may have begun writing it before it
		// stopped: the connector may have acted on it, so never write it
		// again (contract §1; architecture "Bus -> connector").
		note, err := s.lastNote(ctx, j.id)
		if err != nil {
			s.metrics.retries.WithLabelValues(retryPublish).Inc()
			return err
		}
		begun := note.state == events.WritingBegun
		if begun && s.Now().Sub(note.at) < s.cfg.EdgeTimeout+5*time.Second {
			// Begun moments ago: another replica may be writing it right
			// now (the server redelivered it while that one still had it).
			// Wait for its result rather than answer ambiguous.
			s.metrics.retries.WithLabelValues(retryConcurrent).Inc()
			return &undelivered{reason: retryConcurrent, cause: errors.New("another replica began writing this action; waiting for its result")}
		}
		j.noteSeq = note.seq
		if begun {
			s.Log.Warn("redelivered action may have been written by a replica that stopped; answering ambiguous, not writing it again",
				"action_id", j.id, "op", j.op)
			return s.settle(ctx, j, outcomeAmbiguous, events.ResultInterrupted, nil)
		}
	}

	if len(j.id) > maxActionIDLen {
		// Bounded: the id becomes headers and a note's subject. The result
		// still reaches the agent (ResultsSubject bounds its token).
		return s.reject(ctx, j, &events.ActionError{Reason: events.ReasonOversized, Field: "Nats-Msg-Id",
			Detail: fmt.Sprintf("action id of %d bytes exceeds the %d byte limit", len(j.id), maxActionIDLen)})
	}
	a, err := events.DecodeAction(msg.Data(), hdr.Get(events.ContentTypeHeader), subjectOp)
	if err != nil {
		return s.reject(ctx, j, err)
	}
	if s.Now().After(j.deadline) {
		return s.expire(ctx, j, "deadline passed before the first attempt")
	}

	rec, known := s.attachScope(ctx, &a)
	if a.Op == events.OpGetChatInfo {
		return s.settle(ctx, j, outcomeUnsupported, events.SendResult{
			Error: "op get_chat_info is not on the bus: request " + events.ChatInfoSubject,
			Code:  events.ReasonOpUnsupported,
		}, nil)
	}
	var chatPlatform string
	if known {
		chatPlatform = rec.Platform
	}
	d := s.descriptorFor(a.Platform, chatPlatform)
	if a.Op != events.OpInterrupt && !d.SupportsOp(a.Op) {
		return s.settle(ctx, j, outcomeUnsupported, events.SendResult{
			Error: "op " + a.Op + " not supported by the connector",
			Code:  events.ReasonOpUnsupported,
		}, nil)
	}
	s.tagIdentity(&a, rec, known)

	res, err := s.deliver(ctx, j, &a, d)
	if err != nil {
		var ud *undelivered
		if !errors.As(err, &ud) {
			return s.reject(ctx, j, err)
		}
		// Never written: say so durably before the retry, so that the
		// redelivery is not taken for an interrupted write.
		if ud.noteBegun {
			// Even when shutdown cancelled the request: nothing was written,
			// and without this note the redelivery would be ambiguous.
			nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), notWrittenBudget)
			nerr := s.noteNotWritten(nctx, j.id)
			cancel()
			if nerr != nil {
				s.Log.Warn("could not record that an action was not written; its redelivery will be answered ambiguous",
					"action_id", j.id, "err", nerr)
			}
		}
		if !s.Now().Before(j.deadline) {
			return s.expire(ctx, j, ud.cause.Error())
		}
		s.metrics.retries.WithLabelValues(ud.reason).Inc()
		s.metrics.actions.WithLabelValues(j.op, outcomeRetry).Inc()
		s.Log.Debug("action not delivered, will retry", "action_id", j.id, "op", a.Op, "reason", ud.reason)
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
// dead-lettered with that cause, else acked — once the result is stored.
// In the consume loop the worker does not wait for the result's PubAck
// (consume.Later): the action's chat stays held until it is stored, and a
// failed store is retried in place (answered from the stored result, or
// ambiguous, never written again: see handle).
func (s *Service) settle(ctx context.Context, j *job, outcome string, res events.SendResult, dead error) error {
	m, err := resultMsg(j.id, res)
	if err != nil {
		return err
	}
	if done := consume.Later(ctx); done != nil {
		if err := s.pub.PublishFunc(ctx, m, func(_ uint64, err error) { done(s.settled(j, outcome, res, dead, err)) }); err != nil {
			done(s.settled(j, outcome, res, dead, err))
		}
		return nil
	}
	_, err = s.pub.Publish(ctx, m)
	return s.settled(j, outcome, res, dead, err)
}

// settled counts a settled action once its result's store returned err,
// and says what becomes of the action.
func (s *Service) settled(j *job, outcome string, res events.SendResult, dead, err error) error {
	if err != nil {
		s.metrics.retries.WithLabelValues(retryPublish).Inc()
		return fmt.Errorf("publishing result: %w", err)
	}
	s.metrics.actions.WithLabelValues(j.op, outcome).Inc()
	if outcome == outcomeAmbiguous {
		s.metrics.ambiguous.WithLabelValues(ambiguityCause(res)).Inc()
	}
	s.metrics.latency.Observe(s.Now().Sub(j.stored).Seconds())
	s.Log.Debug("action settled", "action_id", j.id, "op", j.op, "outcome", outcome, "code", res.Code)
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

// resultMsg is the result's message for RELAY_RESULTS (which also delivers
// it to the agent's core subscription on relay.results.<id>).
func resultMsg(id string, res events.SendResult) (*nats.Msg, error) {
	data, err := events.Marshal(res, events.ContentTypeMsgpack)
	if err != nil {
		return nil, fmt.Errorf("encoding result: %w", err)
	}
	hid := id
	if len(hid) > maxActionIDLen {
		hid = events.SubjectToken(id) // bounded, with a hash of the whole id
	}
	m := &nats.Msg{Subject: events.ResultsSubject(id), Data: data, Header: nats.Header{
		events.ContentTypeHeader: {events.ContentTypeMsgpack},
		events.TypeHeader:        {events.TypeSendResult},
		events.ActionIDHeader:    {hid},
		events.MsgIDHeader:       {"res:" + hid},
	}}
	return m, nil
}

// replayResult re-publishes the stored result of an action that was already
// settled, reporting whether there was one.
func (s *Service) replayResult(ctx context.Context, j *job) (bool, error) {
	st, err := s.results.Get(ctx)
	if err != nil {
		return false, err
	}
	raw, err := st.GetLastMsgForSubject(ctx, events.ResultsSubject(j.id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	if err != nil {
		s.results.Drop()
		return false, fmt.Errorf("looking up stored result: %w", err)
	}
	m := &nats.Msg{Subject: raw.Subject, Data: raw.Data, Header: raw.Header}
	// The stream absorbs it (same Nats-Msg-Id, or one result per subject);
	// the agent's subscription sees it again.
	if _, err := s.pub.Publish(ctx, m); err != nil {
		return false, fmt.Errorf("re-publishing stored result: %w", err)
	}
	s.Log.Debug("redelivered action answered from stored result", "action_id", j.id)
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
// action's metadata (contract §6) and returns the chat's record when it is
// known. For a follow_up it returns the record of the session's chat (for
// its identity) without touching the metadata: a follow_up needs no scope.
func (s *Service) attachScope(ctx context.Context, a *events.Action) (scopes.Record, bool) {
	mirrorScope(a)
	if a.Op == events.OpFollowUp {
		if !s.cfg.Identities.Multi() {
			return scopes.Record{}, false
		}
		platform, chat, ok := events.SessionChat(a.SessionKey)
		if !ok {
			return scopes.Record{}, false
		}
		if a.Platform != "" {
			platform = a.Platform
		}
		if rec, outcome := s.scopes.Lookup(chat, platform, platform); outcome == scopes.Hit {
			return rec, true
		}
		if rec, ok := s.fetchScope(ctx, chat, platform, platform); ok {
			return rec, true
		}
		// The session key names the platform even for an unknown chat.
		return scopes.Record{Platform: platform, ChatID: chat}, true
	}
	if !events.ChatAddressed(a.Op) {
		return scopes.Record{}, false
	}
	primary := s.primaryPlatform()
	rec, outcome := s.scopes.Lookup(a.ChatID, a.Platform, primary)
	switch outcome {
	case scopes.Hit:
		s.metrics.scopeHits.Add(1)
	case scopes.Ambiguous:
		s.metrics.scopeMisses.Add(1)
		s.Log.Debug("chat known on several platforms, scope not attached", "chat_id", a.ChatID)
		return scopes.Record{}, false
	default:
		s.metrics.scopeMisses.Add(1)
		var ok bool
		rec, ok = s.fetchScope(ctx, a.ChatID, a.Platform, primary)
		if !ok && a.Platform == "" {
			rec, ok = s.fetchScopeElsewhere(ctx, a.ChatID, primary)
		}
		if !ok {
			return scopes.Record{}, false
		}
	}
	applyScope(a, rec.Scope)
	return rec, true
}

// tagIdentity names the identity an action leaves under when more than one
// is configured (contract §6 "Identity of a reply"): the platform and bot
// id the chat's traffic came in on, unless the action names its own. An
// action naming only its platform gets the chat's bot on that platform, else
// the configured one. With one identity the frame stays as the agent wrote
// it.
func (s *Service) tagIdentity(a *events.Action, rec scopes.Record, known bool) {
	ids := s.cfg.Identities
	if !ids.Multi() || a.Op == events.OpInterrupt {
		return
	}
	tagged := false
	if a.Platform == "" {
		if !known || !ids.Has(rec.Platform) {
			return // an unknown chat: the connector's primary identity
		}
		a.Platform = rec.Platform
		if a.BotID == "" {
			a.BotID = rec.Scope.BotID
		}
		tagged = true
	}
	if a.BotID == "" {
		// The bot the chat's traffic came in on, else the configured one.
		if known && rec.Platform == a.Platform && rec.Scope.BotID != "" {
			a.BotID = rec.Scope.BotID
		} else {
			a.BotID = ids.BotID(a.Platform)
		}
		tagged = tagged || a.BotID != ""
	}
	if tagged {
		s.metrics.identity.WithLabelValues(a.Platform).Inc()
	}
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
	kv, err := s.scopeKV.Get(ctx)
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
		s.scopeKV.Drop()
		s.Log.Debug("scope get failed", "chat_id", chatID, "err", err)
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

// fetchScopeElsewhere answers a miss of an action naming no platform, when
// its chat is not on the primary platform, from the other configured
// identities' records: the bounded cache may have forgotten a chat of
// another platform. As for the cache, one match is a hit and several are
// ambiguous (no scope).
func (s *Service) fetchScopeElsewhere(ctx context.Context, chatID, primary string) (scopes.Record, bool) {
	var found scopes.Record
	n := 0
	for _, id := range s.cfg.Identities {
		if id.Platform == primary || id.Platform == "" {
			continue
		}
		if rec, ok := s.fetchScope(ctx, chatID, id.Platform, ""); ok {
			found, n = rec, n+1
		}
	}
	return found, n == 1
}

// deliver sends the action to the connector through ws-edge, as several
// ordered sends when a send's content exceeds the platform's limit. Before
// the first frame may be written, a "begun" note for the action is stored
// (relay.egress.writing.<id>); it is published asynchronously while the
// request is prepared and awaited just before the request goes out.
//
// An *undelivered error means nothing reached the connector and the action
// may be retried; any other error is a bad action. Every other outcome is
// a result to report (see classify).
func (s *Service) deliver(ctx context.Context, j *job, a *events.Action, d descriptor.Descriptor) (events.SendResult, error) {
	parts := []string{a.Content}
	if a.Op == events.OpSend && d.Len(a.Content) > d.MaxLen() {
		// Bounded before splitting: an 800 KB send must not become 400
		// messages (nor cost the split).
		if n, most := d.Len(a.Content), s.cfg.MaxParts*d.MaxLen(); n > most {
			return events.SendResult{}, &events.ActionError{Reason: events.ReasonOversized, Field: "content",
				Detail: fmt.Sprintf("content of %d %s is over the %d this relay splits a send into (EGRESS_MAX_PARTS=%d × max_message_length %d)",
					n, d.LenUnit, most, s.cfg.MaxParts, d.MaxLen())}
		}
		parts = d.Split(a.Content)
		if len(parts) > s.cfg.MaxParts {
			return events.SendResult{}, &events.ActionError{Reason: events.ReasonOversized, Field: "content",
				Detail: fmt.Sprintf("content splits into %d messages, over EGRESS_MAX_PARTS=%d", len(parts), s.cfg.MaxParts)}
		}
	}
	s.metrics.parts.Observe(float64(len(parts)))
	var note *bus.PendingAck
	if noteBefore(a.Op) {
		if err := ctx.Err(); err != nil {
			// Shutting down past its grace: nothing was noted or written.
			return events.SendResult{}, &undelivered{reason: retryNote, cause: err}
		}
		var err error
		if note, err = s.startNote(j.id, j.noteSeq); err != nil {
			return events.SendResult{}, &undelivered{reason: retryNote, cause: err}
		}
	}
	var first events.SendResult
	var ids []string
	for i, text := range parts {
		p := *a
		p.Content = text
		if i > 0 {
			p.ReplyTo = nil
		}
		body, err := p.AppendJSON(nil)
		if err != nil {
			return events.SendResult{}, err
		}
		if i == 0 && note != nil {
			if err := awaitNote(ctx, note, s.cfg.EdgeTimeout); err != nil {
				if lostNoteRace(err) {
					// Another replica began writing it: not this one.
					return events.SendResult{}, &undelivered{reason: retryConcurrent, cause: err}
				}
				// Perhaps stored after all: supersede it before the retry.
				return events.SendResult{}, &undelivered{reason: retryNote, cause: err, noteBegun: true}
			}
		}
		r, retry := classify(s.request(ctx, j, &p, body))
		if retry != "" && i == 0 {
			// Nothing sent yet: the whole action is retried.
			return events.SendResult{}, &undelivered{reason: retry, cause: errors.New(r.Error), noteBegun: note != nil}
		}
		if retry != "" || !r.Success {
			if len(parts) == 1 {
				return r, nil
			}
			// A later part failed (or was never written): what was sent
			// stays sent. Report the failure with the ids so far; never
			// resend on redelivery.
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

// noteBefore reports whether an action of op takes a before-write note:
// every op whose second write would show, but an interrupt (idempotent)
// and a typing indicator (a second one is the same indicator, a few
// seconds longer). Agents typically send one before each reply: without
// a note, it costs one durable write instead of two.
func noteBefore(op string) bool {
	return op != events.OpInterrupt && op != events.OpTyping
}

// Results egress synthesizes for edge requests that got no usable answer.
// Both are ambiguous: the request reached a ws-edge, which may have written
// the frame.
var (
	resultEdgeSilent = events.SendResult{Error: "relay edge gave no answer; outcome unknown", Ambiguous: true}
	resultUnreadable = events.SendResult{Error: "unreadable result from ws-edge; outcome unknown", Ambiguous: true}
)

// classify maps the outcome of one edge request to the result to report,
// or to a retry reason when the frame was certainly never written:
//
//	ws-edge answered "not connected" (no socket, or the frame
//	  was still queued when the socket went)         -> retry (not written)
//	NATS: no responders (no ws-edge subscribed)      -> retry (not written)
//	any other request error (no answer in time, the
//	  connection failed mid-request)                 -> ambiguous, edge_no_answer
//	an answer that is not a result object            -> ambiguous, unreadable
//	"connection lost" / "timed out" (written, no result) -> ambiguous, as answered
//	the connector's own result (success, failure,
//	  declined, or ambiguous)                        -> reported as answered
func classify(reply []byte, err error) (events.SendResult, string) {
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return events.SendResult{Error: "no ws-edge is answering"}, retryNoResponders
	case err != nil:
		return resultEdgeSilent, ""
	}
	res, perr := events.ParseResult(reply)
	switch {
	case perr != nil:
		return resultUnreadable, ""
	case res.Transient():
		return res, retryNotConnected
	case !res.Success && res.Error == events.ErrTextConnLost:
		res.Ambiguous = true // written, then lost: whatever the flag says
	}
	return res, ""
}

// ambiguityCause names why an ambiguous result has no known outcome.
func ambiguityCause(r events.SendResult) string {
	switch {
	case strings.Contains(r.Error, events.ErrTextTimedOut):
		return causeTimeout
	case strings.Contains(r.Error, events.ErrTextConnLost):
		return causeConnLost
	case strings.Contains(r.Error, events.ErrTextInterrupted):
		return causeInterrupted
	case strings.Contains(r.Error, resultEdgeSilent.Error):
		return causeEdgeSilent
	case strings.Contains(r.Error, resultUnreadable.Error):
		return causeUnreadable
	}
	return causeConnector
}

// request makes one relay.edge.outbound request with the action's JSON and
// returns ws-edge's raw answer. The consume loop keeps the action in
// progress meanwhile.
func (s *Service) request(ctx context.Context, j *job, a *events.Action, body []byte) ([]byte, error) {
	m := &nats.Msg{Subject: events.EdgeOutboundSubject, Data: body, Header: nats.Header{events.ActionIDHeader: {j.id}}}
	if a.Platform != "" {
		m.Header[events.PlatformHeader] = []string{a.Platform}
	}
	if a.BotID != "" {
		m.Header[events.BotIDHeader] = []string{a.BotID}
	}
	reply, err := s.pub.Request(ctx, m, s.cfg.EdgeTimeout)
	if err != nil {
		return nil, err
	}
	return reply.Data, nil
}

// startNote publishes the "begun" note of an action without waiting for
// its acknowledgement (awaitNote), on condition that the action's last
// note is still the one this attempt read (after, its sequence; 0: none):
// of two replicas holding the same action (a redelivery while the first
// still had it), only one can begin writing it.
func (s *Service) startNote(id string, after uint64) (*bus.PendingAck, error) {
	m := noteMsg(id, events.WritingBegun)
	m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(after, 10))
	return s.pub.PublishAsync(m)
}

// lostNoteRace reports whether storing the "begun" note failed because
// another replica stored one first.
func lostNoteRace(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// awaitNote waits until the note is stored.
func awaitNote(ctx context.Context, f *bus.PendingAck, timeout time.Duration) error {
	wctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("no acknowledgement within %v", timeout))
	defer cancel()
	if _, err := f.Wait(wctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if cause := context.Cause(wctx); cause != nil && errors.Is(err, context.DeadlineExceeded) {
			err = cause
		}
		return fmt.Errorf("storing the before-write note: %w", err)
	}
	return nil
}

// notWrittenBudget bounds noteNotWritten: long enough for the results
// stream to elect a leader after a NATS node was lost (seconds), short
// enough for a shutdown.
const notWrittenBudget = 10 * time.Second

// noteNotWritten stores the "not written" note of an action this attempt
// did not write, retrying until it is stored or ctx ends. A stream that
// does not answer (its leader lost with a NATS node, a timeout) is asked
// again: the note only ever says what is true, and while this replica
// holds the action no other one writes it. Without it the redelivery
// finds the "begun" note and answers ambiguous, though nothing was
// written (seen in the compose suite's TestClusterKillNode). A stream's
// refusal (an API error) is final.
func (s *Service) noteNotWritten(ctx context.Context, id string) error {
	ladder := backoff.New(100*time.Millisecond, time.Second, nil)
	for {
		err := s.noteWriting(ctx, id, events.WritingNot)
		var apiErr *jetstream.APIError
		if err == nil || errors.As(err, &apiErr) || ctx.Err() != nil {
			return err
		}
		s.Log.Debug("the not-written note was not stored; asking again", "action_id", id, "err", err)
		if !backoff.Sleep(ctx, ladder.Next()) {
			return err
		}
	}
}

// noteWriting stores a note synchronously.
func (s *Service) noteWriting(ctx context.Context, id, state string) error {
	_, err := s.pub.Publish(ctx, noteMsg(id, state))
	return err
}

func noteMsg(id, state string) *nats.Msg {
	return &nats.Msg{Subject: events.WritingSubject(id), Data: []byte(state), Header: nats.Header{
		events.ActionIDHeader: {id},
	}}
}

// note is an action's last before-write note: its state ("" when there is
// none), stream sequence and time.
type note struct {
	state string
	seq   uint64
	at    time.Time
}

// lastNote returns the action's last before-write note.
func (s *Service) lastNote(ctx context.Context, id string) (note, error) {
	st, err := s.results.Get(ctx)
	if err != nil {
		return note{}, err
	}
	raw, err := st.GetLastMsgForSubject(ctx, events.WritingSubject(id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return note{}, nil
	}
	if err != nil {
		s.results.Drop()
		return note{}, fmt.Errorf("looking up the before-write note: %w", err)
	}
	return note{state: string(raw.Data), seq: raw.Sequence, at: raw.Time}, nil
}

// writingBegun reports whether the action's last note says its write began.
func (s *Service) writingBegun(ctx context.Context, id string) (bool, error) {
	n, err := s.lastNote(ctx, id)
	return n.state == events.WritingBegun, err
}
