package devconnector

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/wire"
)

func (s *Server) routes() {
	s.mux.HandleFunc("GET /relay", s.handleRelay)
	s.mux.HandleFunc("POST /interactions", s.handleInteractions)
	s.mux.HandleFunc("POST /inbound", s.handleInbound)
	s.mux.HandleFunc("POST /interrupt", s.handleInterrupt)
	s.mux.HandleFunc("POST /twilio", s.handleTwilio)
	s.mux.HandleFunc("POST /raw", s.handleRaw)
	s.mux.HandleFunc("GET /outbound", s.handleOutbound)
	s.mux.HandleFunc("GET /state", s.handleState)
	s.mux.HandleFunc("GET /{$}", s.handleIndex)
}

const indexText = `relay dev connector

GET  /relay          the gateway WebSocket (GATEWAY_RELAY_URL = this server's base URL)
POST /interactions   a raw Discord interaction JSON (?bot_id=&profile=) -> passthrough_forward
POST /inbound        a MessageEvent JSON -> inbound
POST /interrupt      {"session_key":..., "chat_id":...} -> interrupt_inbound
POST /twilio         a form body (?bot_id=&profile=) -> passthrough_forward
POST /raw            any bytes -> one text message, verbatim
GET  /outbound       recorded outbound frames and their results
GET  /state          connection state and counters
`

func (s *Server) handleIndex(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, indexText)
}

// forwardWire is the "forward" object of a passthrough_forward frame.
type forwardWire struct {
	Platform string      `json:"platform"`
	BotID    string      `json:"botId"`
	Method   string      `json:"method"`
	Path     string      `json:"path"`
	Headers  [][2]string `json:"headers"`
	BodyB64  string      `json:"bodyB64"`
	Profile  string      `json:"profile,omitempty"`
}

func forwardFrame(fw *forwardWire, bufferID string) []byte {
	b, _ := json.Marshal(struct { // strings only: cannot fail
		Type     string       `json:"type"`
		Forward  *forwardWire `json:"forward"`
		BufferID string       `json:"bufferId"`
	}{wire.FramePassthroughForward, fw, bufferID})
	return append(b, '\n')
}

// InteractionOptions are what POST /interactions takes from its query
// string.
type InteractionOptions struct {
	// Platform is the forward's platform; default "discord".
	Platform string
	// BotID is the bot identity the provider called; default the body's
	// application_id.
	BotID string
	// Profile routes the interaction to a named agent profile.
	Profile string
}

// Forwarded says what became of a posted interaction.
type Forwarded struct {
	// Ping is set for a PING, which is answered inline and not forwarded.
	Ping bool
	// BufferID is the passthrough_forward frame's bufferId.
	BufferID string
	// InteractionID is the interaction's id.
	InteractionID string
	// SessionKey is the key its token was vaulted under (what the gateway
	// computes for the interaction, contract §5).
	SessionKey string
}

// ForwardInteraction does what POST /interactions does with a raw Discord
// interaction body, without HTTP: PING is reported and not forwarded;
// otherwise the token is vaulted and the body without it is buffered as a
// passthrough_forward. Unlike the endpoint, which drops the oldest frame when
// the replay buffer is full, it waits for room (ctx bounds the wait). It
// returns ErrBadBody when body is not a JSON object.
func (s *Server) ForwardInteraction(ctx context.Context, body []byte, opt InteractionOptions) (Forwarded, error) {
	return s.forwardInteraction(ctx, body, opt, true)
}

func (s *Server) forwardInteraction(ctx context.Context, body []byte, opt InteractionOptions, wait bool) (Forwarded, error) {
	if opt.Platform == "" {
		opt.Platform = "discord"
	}
	in, ok := parseInteraction(body, opt.Platform, opt.Profile)
	if !ok {
		return Forwarded{}, ErrBadBody
	}
	if in.typ == interactionPing {
		s.mu.Lock()
		s.stats.Pings++
		s.mu.Unlock()
		return Forwarded{Ping: true, InteractionID: in.id}, nil
	}
	if opt.BotID == "" {
		opt.BotID = in.applicationID
	}
	sanitized := sanitizeInteraction(body, in.hasToken)
	now := s.cfg.Now()
	fwd := Forwarded{
		BufferID:      s.newBufferID(),
		InteractionID: in.id,
		SessionKey:    events.SessionKey(in.source, events.SessionKeyOptions{}),
	}
	frame := forwardFrame(&forwardWire{
		Platform: opt.Platform,
		BotID:    opt.BotID,
		Method:   http.MethodPost,
		Path:     "/interactions/" + opt.Platform + "/" + opt.BotID,
		Headers: [][2]string{
			{"content-type", "application/json"},
			{"x-signature-timestamp", strconv.FormatInt(now.Unix(), 10)},
		},
		BodyB64: base64.StdEncoding.EncodeToString(sanitized),
		Profile: opt.Profile,
	}, fwd.BufferID)

	// The token is vaulted in the same critical section that buffers the
	// frame, so a follow_up can never overtake it.
	store := func() {
		if in.hasToken && in.token != "" {
			s.vault.put(fwd.SessionKey, in.id, in.token, now)
		}
		if opt.Platform == "discord" {
			s.learnGuildChatLocked(in.source.ChatID, in.guildID)
		}
		s.enqueueLocked(fwd.BufferID, frame)
	}
	if wait {
		err := s.waitFor(ctx, func() bool {
			if s.buf.live() >= s.cfg.ReplayLimit {
				return false
			}
			store()
			return true
		})
		if err != nil {
			return Forwarded{}, err
		}
	} else {
		s.mu.Lock()
		store()
		s.mu.Unlock()
	}
	s.kickStreaming()
	return fwd, nil
}

// handleInteractions forwards a raw Discord interaction the way the hosted
// connector does after verifying it (see ForwardInteraction) and answers
// 202, or 200 {"type":1} for a PING.
func (s *Server) handleInteractions(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	fwd, err := s.forwardInteraction(r.Context(), body, InteractionOptions{
		Platform: q.Get("platform"),
		BotID:    q.Get("bot_id"),
		Profile:  q.Get("profile"),
	}, false)
	switch {
	case err != nil:
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "body is not a JSON object"})
	case fwd.Ping:
		writeJSON(w, http.StatusOK, map[string]any{"type": 1})
	default:
		s.log.Debug("interaction forwarded", "buffer_id", fwd.BufferID, "interaction_id", fwd.InteractionID, "session_key", fwd.SessionKey)
		writeJSON(w, http.StatusAccepted, map[string]any{
			"forwarded":      true,
			"bufferId":       fwd.BufferID,
			"interaction_id": fwd.InteractionID,
			"session_key":    fwd.SessionKey,
			"acked":          "deferred",
		})
	}
}

// handleInbound buffers a MessageEvent as an inbound frame.
func (s *Server) handleInbound(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	t := bytes.TrimSpace(body)
	var event bytes.Buffer
	if len(t) == 0 || t[0] != '{' || json.Compact(&event, t) != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "body is not a JSON object"})
		return
	}
	src := object(object(t)["source"])
	id := s.newBufferID()
	frame := make([]byte, 0, event.Len()+64)
	frame = append(frame, `{"type":"inbound","event":`...)
	frame = append(frame, event.Bytes()...)
	frame = append(frame, `,"bufferId":"`...)
	frame = append(frame, id...) // "b-<digits>": no escaping needed
	frame = append(frame, "\"}\n"...)

	s.mu.Lock()
	if scalar(src["platform"]) == "discord" {
		scope := scalar(src["scope_id"])
		if scope == "" {
			scope = scalar(src["guild_id"])
		}
		s.learnGuildChatLocked(scalar(src["chat_id"]), scope)
	}
	s.enqueueLocked(id, frame)
	s.mu.Unlock()
	s.kickStreaming()
	writeJSON(w, http.StatusAccepted, map[string]any{"bufferId": id})
}

// handleInterrupt buffers a user's /stop as an interrupt_inbound frame.
func (s *Server) handleInterrupt(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var in struct {
		SessionKey string `json:"session_key"`
		ChatID     string `json:"chat_id"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.SessionKey == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": `want {"session_key": "...", "chat_id": "..."}`})
		return
	}
	id := s.newBufferID()
	frame, _ := json.Marshal(struct { // strings only: cannot fail
		Type       string `json:"type"`
		SessionKey string `json:"session_key"`
		ChatID     string `json:"chat_id"`
		BufferID   string `json:"bufferId"`
	}{wire.FrameInterruptInbound, in.SessionKey, in.ChatID, id})
	s.enqueue(id, append(frame, '\n'))
	writeJSON(w, http.StatusAccepted, map[string]any{"bufferId": id})
}

// handleTwilio buffers a Twilio webhook as a passthrough_forward frame.
func (s *Server) handleTwilio(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	botID := q.Get("bot_id")
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/x-www-form-urlencoded"
	}
	headers := [][2]string{{"content-type", ct}}
	if sig := r.Header.Get("X-Twilio-Signature"); sig != "" {
		headers = append(headers, [2]string{"x-twilio-signature", sig})
	}
	id := s.newBufferID()
	s.enqueue(id, forwardFrame(&forwardWire{
		Platform: "twilio",
		BotID:    botID,
		Method:   http.MethodPost,
		Path:     "/webhooks/twilio/" + botID,
		Headers:  headers,
		BodyB64:  base64.StdEncoding.EncodeToString(body),
		Profile:  q.Get("profile"),
	}, id))
	writeJSON(w, http.StatusAccepted, map[string]any{"forwarded": true, "bufferId": id})
}

// handleRaw sends the body verbatim as one text message (bad-input tests).
func (s *Server) handleRaw(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	err := s.sendActive(r.Context(), outMsg{data: body, raw: true})
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"sent": true, "bytes": len(body)})
}

func (s *Server) handleOutbound(w http.ResponseWriter, _ *http.Request) {
	recs := s.Outbound()
	if recs == nil {
		recs = []Record{}
	}
	writeJSON(w, http.StatusOK, recs)
}

func (s *Server) handleState(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.State())
}

// readBody reads a request body of at most maxBodyBytes, answering the
// request itself on failure.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"error": fmt.Sprintf("body larger than %d bytes", mbe.Limit)})
		} else {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "reading body: " + err.Error()})
		}
		return nil, false
	}
	return body, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// marshalFields encodes a frame of type typ from fields, with bufferID when
// not empty, plus the trailing newline.
func marshalFields(typ string, fields map[string]any, bufferID string) ([]byte, error) {
	m := make(map[string]any, len(fields)+2)
	for k, v := range fields {
		m[k] = v
	}
	m["type"] = typ
	if bufferID != "" {
		m["bufferId"] = bufferID
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadFields, err)
	}
	return append(b, '\n'), nil
}
