package wire

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/internal/jsonstr"
	"github.com/relaybus/relaybus/pkg/wire/jsonscan"
)

// Frame types, connector → gateway.
const (
	FrameDescriptor         = "descriptor"
	FrameInbound            = "inbound"
	FramePassthroughForward = "passthrough_forward"
	FrameOutboundResult     = "outbound_result"
	FrameInterruptInbound   = "interrupt_inbound"
	FrameGoingIdleAck       = "going_idle_ack"
)

// Frame types, gateway → connector.
const (
	FrameHello      = "hello"
	FrameOutbound   = "outbound"
	FrameInterrupt  = "interrupt"
	FrameGoingIdle  = "going_idle"
	FrameInboundAck = "inbound_ack"
)

// MaxBufferIDLen is the longest bufferId relaybus accepts, in bytes. The id
// becomes the raw frame's Nats-Msg-Id and Relay-Buffer-Id headers, so an
// unbounded one could make a publish the server refuses (a 3 MB id did:
// "maximum payload exceeded"). ws-edge dead-letters a frame with a longer
// id as oversized and acks it (docs/relay-contract.md, "Bounded ids").
const MaxBufferIDLen = 256

// IsControlFrame reports whether ws-edge handles a connector frame type
// itself rather than publishing it to relay.raw.<type>.
func IsControlFrame(frameType string) bool {
	switch frameType {
	case FrameDescriptor, FrameOutboundResult, FrameGoingIdleAck:
		return true
	}
	return false
}

// Frame is the envelope of one connector → gateway frame. Payload keys are
// kept raw so that decoding the envelope costs one pass and the payload is
// decoded only by the stage that needs it.
type Frame struct {
	Type       string          `json:"type"`
	BufferID   string          `json:"bufferId,omitempty"`
	RequestID  string          `json:"requestId,omitempty"`
	Descriptor json.RawMessage `json:"descriptor,omitempty"`
	Event      json.RawMessage `json:"event,omitempty"`
	Forward    json.RawMessage `json:"forward,omitempty"`
	Result     json.RawMessage `json:"result,omitempty"`
	SessionKey string          `json:"session_key,omitempty"`
	ChatID     string          `json:"chat_id,omitempty"`
}

// DecodeFrame decodes and checks one frame (without its trailing newline).
// The checks are the contract's: a JSON object with a non-empty string
// "type"; inbound needs an object "event", passthrough_forward an object
// "forward", descriptor an object "descriptor", outbound_result a
// "requestId" (a missing "result" reads as {}), interrupt_inbound a
// "session_key". Unknown types pass with only the envelope checked. A key
// that differs from a frame key only in letter case is
// events.ReasonAmbiguousKey (see checkKeys); the Frame returned with that
// error holds the exact-case "type" and "bufferId" strings. Errors are
// *FrameError; DecodeFrame never panics.
func DecodeFrame(b []byte) (Frame, error) {
	var f Frame
	if err := UnmarshalObject(b, &f, ""); err != nil {
		return Frame{}, err
	}
	if err := checkKeys(b, frameType, ""); err != nil {
		// What a reader matching keys exactly sees, so that ws-edge can
		// dead-letter the frame under its type and ack its bufferId.
		return Frame{Type: exactString(b, "type"), BufferID: exactString(b, "bufferId")}, err
	}
	if f.Type == "" {
		return Frame{}, frameErr(events.ReasonMissingType, "type", "frame has no type")
	}
	switch f.Type {
	case FrameInbound:
		return f, requireObject("event", f.Event)
	case FramePassthroughForward:
		return f, requireObject("forward", f.Forward)
	case FrameDescriptor:
		return f, requireObject("descriptor", f.Descriptor)
	case FrameOutboundResult:
		if f.RequestID == "" {
			return f, frameErr(events.ReasonMissingField, "requestId", "outbound_result without requestId")
		}
		if len(f.Result) == 0 || string(f.Result) == "null" {
			f.Result = json.RawMessage("{}")
		} else if f.Result[0] != '{' {
			return f, frameErr(events.ReasonWrongType, "result", "result is not an object")
		}
	case FrameInterruptInbound:
		if f.SessionKey == "" {
			return f, frameErr(events.ReasonMissingField, "session_key", "interrupt_inbound without session_key")
		}
	}
	return f, nil
}

// frameErr returns the *events.FrameError of a rejected frame or payload.
func frameErr(reason, field, format string, args ...any) *events.FrameError {
	return &events.FrameError{Reason: reason, Field: field, Detail: fmt.Sprintf(format, args...)}
}

func requireObject(field string, raw json.RawMessage) error {
	switch {
	case len(raw) == 0:
		return frameErr(events.ReasonMissingField, field, "%s is missing", field)
	case string(raw) == "null":
		return frameErr(events.ReasonNullField, field, "%s is null", field)
	case raw[0] != '{':
		return frameErr(events.ReasonWrongType, field, "%s is not an object", field)
	}
	return nil
}

// UnmarshalObject decodes the JSON object b into v with encoding/json and
// translates a failure into a *FrameError: the relay's one translation of
// encoding/json errors. Input that is not JSON is events.ReasonNotJSON, JSON that
// is not an object events.ReasonNotObject, and a key holding the wrong JSON type
// events.ReasonWrongType with Field naming the key's path (below field, when b is
// the value of a key; "" for a whole frame or body). Details name JSON
// kinds and byte offsets, never the input's bytes, so no credential in it
// reaches a log or a dead letter through an error.
func UnmarshalObject(b []byte, v any, field string) error {
	what := field
	if what == "" {
		what = "document"
	}
	if t := jsonscan.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		if jsonscan.Valid(t) {
			return frameErr(events.ReasonNotObject, "", "%s is JSON but not an object", what)
		}
		return frameErr(events.ReasonNotJSON, "", "%s is not JSON", what)
	}
	err := json.Unmarshal(b, v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" { // the object itself: not reached with a struct v
			return frameErr(events.ReasonNotObject, "", "%s is JSON but not an object", what)
		}
		path := te.Field
		if field != "" {
			path = field + "." + path
		}
		kind, _, _ := strings.Cut(te.Value, " ") // "number 1.5" → "number"
		return frameErr(events.ReasonWrongType, path, "%s is a JSON %s, want %s", path, kind, jsonKind(te.Type))
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return frameErr(events.ReasonNotJSON, "", "%s is not valid JSON (byte %d)", what, se.Offset)
	}
	return frameErr(events.ReasonNotJSON, "", "%s is not valid JSON", what)
}

// jsonKind names the JSON kind a Go type decodes from.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return "object"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	}
	return "another type"
}

// PassthroughForward is a provider webhook the connector verified and
// forwarded (the "forward" object of a passthrough_forward frame).
type PassthroughForward struct {
	Platform string
	BotID    string
	Method   string
	Path     string
	// Headers in arrival order; malformed entries were dropped.
	Headers [][2]string
	// BodyB64 is the standard base64 of the body; see Body.
	BodyB64 string
	// Profile is the routed agent profile; "" is the default profile.
	Profile string
}

// DecodeForward decodes a "forward" object. platform must be a non-empty
// string and bodyB64 a string (decode it with Body); headers that are not
// two-element arrays of strings are dropped, per the contract, and the rest
// keep their arrival order. Errors are *FrameError.
func DecodeForward(raw []byte) (PassthroughForward, error) {
	if err := requireObject("forward", raw); err != nil {
		return PassthroughForward{}, err
	}
	var w forwardWire
	if err := UnmarshalObject(raw, &w, "forward"); err != nil {
		return PassthroughForward{}, err
	}
	if err := checkKeys(raw, forwardWireType, "forward"); err != nil {
		return PassthroughForward{}, err
	}
	return w.forward()
}

// DecodeForwardFrame decodes a whole passthrough_forward frame and its
// forward object: the same checks and result as DecodeFrame followed by
// DecodeForward, for the converter's hot path. The frames connectors send
// are read in one pass without reflection (see scanForwardFrame); others
// take the general path. It returns the frame's bufferId too. Errors are
// *FrameError.
func DecodeForwardFrame(b []byte) (PassthroughForward, string, error) {
	if fwd, id, ok := scanForwardFrame(b); ok {
		return fwd, id, nil
	}
	// Anything else, and every error, goes the general way: the result is
	// DecodeFrame's and DecodeForward's by construction. (A one-struct
	// decode here merged repeated "forward" objects and skipped the type
	// checks of requestId, session_key and chat_id.)
	f, err := DecodeFrame(b)
	if err != nil {
		return PassthroughForward{}, "", err
	}
	if f.Type != FramePassthroughForward {
		return PassthroughForward{}, "", frameErr(events.ReasonWrongType, "type", "frame type %q is not %s", f.Type, FramePassthroughForward)
	}
	fwd, err := DecodeForward(f.Forward)
	return fwd, f.BufferID, err
}

// DecodeForwardBody decodes a passthrough_forward frame and its body: the
// same checks, result and errors as DecodeForwardFrame followed by Body,
// except that the result's BodyB64 is left empty. The converter needs only
// the body: on the fast path it is decoded straight from b, without a copy
// of its base64 (about 2 KB a frame) in between.
func DecodeForwardBody(b []byte) (PassthroughForward, []byte, error) {
	if fwd, b64, _, ok := scanForward(b, false); ok {
		body, err := decodeBody(b64)
		if err != nil {
			return PassthroughForward{}, nil, err
		}
		return fwd, body, nil
	}
	fwd, _, err := DecodeForwardFrame(b)
	if err != nil {
		return PassthroughForward{}, nil, err
	}
	body, err := fwd.Body()
	if err != nil {
		return PassthroughForward{}, nil, err
	}
	fwd.BodyB64 = ""
	return fwd, body, nil
}

// forwardWire is the wire form of a forward object.
type forwardWire struct {
	Platform string            `json:"platform"`
	BotID    string            `json:"botId"`
	Method   string            `json:"method"`
	Path     string            `json:"path"`
	Headers  []json.RawMessage `json:"headers"`
	BodyB64  *string           `json:"bodyB64"`
	Profile  *string           `json:"profile"`
}

func (w *forwardWire) forward() (PassthroughForward, error) {
	if w.Platform == "" {
		return PassthroughForward{}, frameErr(events.ReasonMissingField, "forward.platform", "forward has no platform")
	}
	if w.BodyB64 == nil {
		return PassthroughForward{}, frameErr(events.ReasonMissingField, "forward.bodyB64", "forward has no bodyB64")
	}
	f := PassthroughForward{Platform: w.Platform, BotID: w.BotID, Method: w.Method, Path: w.Path, BodyB64: *w.BodyB64}
	if w.Profile != nil {
		f.Profile = *w.Profile
	}
	for _, h := range w.Headers {
		if name, value, ok := headerPair(h); ok {
			f.Headers = append(f.Headers, [2]string{name, value})
		}
	}
	return f, nil
}

// headerPair decodes one forwarded header entry: a two-element array of
// strings. Anything else (a longer or shorter array, a null or a number in
// the pair, a non-array) is reported as not ok and dropped by the caller.
func headerPair(raw json.RawMessage) (name, value string, ok bool) {
	var pair []*string // a JSON null element stays nil
	if json.Unmarshal(raw, &pair) != nil || len(pair) != 2 || pair[0] == nil || pair[1] == nil {
		return "", "", false
	}
	return *pair[0], *pair[1], true
}

// strictBase64 is base64.StdEncoding.Strict(), made once (Strict copies
// the encoding's tables).
var strictBase64 = base64.StdEncoding.Strict()

// Body decodes BodyB64 strictly: standard alphabet, correct padding, zero
// trailing bits, and no characters (not even newlines) outside the alphabet.
// The reference gateway's lenient decoding silently dropped such characters.
func (f PassthroughForward) Body() ([]byte, error) {
	return decodeBody([]byte(f.BodyB64))
}

// decodeBody is Body for the bytes of the base64 (DecodeForwardBody
// passes them straight from the frame). Two IndexByte calls, not
// ContainsAny: they scan the ~2 KB a vector at a time, ContainsAny a byte
// at a time (about 2 µs a body).
func decodeBody(b64 []byte) ([]byte, error) {
	if bytes.IndexByte(b64, '\n') >= 0 || bytes.IndexByte(b64, '\r') >= 0 {
		return nil, frameErr(events.ReasonBadBase64, "forward.bodyB64", "line breaks are not allowed")
	}
	b := make([]byte, strictBase64.DecodedLen(len(b64)))
	n, err := strictBase64.Decode(b, b64)
	if err != nil {
		return nil, frameErr(events.ReasonBadBase64, "forward.bodyB64", "%v", err)
	}
	return b[:n], nil
}

// Header returns the first value of a forwarded header (case-insensitive).
func (f PassthroughForward) Header(name string) string {
	for _, h := range f.Headers {
		if strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}

// DecodeInboundEvent decodes the "event" object of an inbound frame into a
// normalized events.MessageEvent. Errors are *FrameError.
func DecodeInboundEvent(raw []byte) (events.MessageEvent, error) {
	var e events.MessageEvent
	if err := requireObject("event", raw); err != nil {
		return e, err
	}
	if err := UnmarshalObject(raw, &e, "event"); err != nil {
		return events.MessageEvent{}, err
	}
	if err := checkKeys(raw, messageEventType, "event"); err != nil {
		return events.MessageEvent{}, err
	}
	e.Normalize()
	return e, nil
}

// Gateway → connector frames. Each Append* writes one frame including its
// trailing newline, ready for a text message.

// AppendHello appends a hello frame.
func AppendHello(dst []byte, platform, botID string) []byte {
	dst = append(dst, `{"type":"hello","platform":`...)
	dst = jsonstr.Append(dst, platform)
	dst = append(dst, `,"botId":`...)
	dst = jsonstr.Append(dst, botID)
	return append(dst, "}\n"...)
}

// AppendOutbound appends an outbound frame around an action's JSON object.
// platform and botID are omitted when empty.
func AppendOutbound(dst []byte, requestID string, action []byte, platform, botID string) []byte {
	dst = append(dst, `{"type":"outbound","requestId":`...)
	dst = jsonstr.Append(dst, requestID)
	dst = append(dst, `,"action":`...)
	dst = append(dst, action...)
	if platform != "" {
		dst = append(dst, `,"platform":`...)
		dst = jsonstr.Append(dst, platform)
	}
	if botID != "" {
		dst = append(dst, `,"botId":`...)
		dst = jsonstr.Append(dst, botID)
	}
	return append(dst, "}\n"...)
}

// AppendInterrupt appends an interrupt frame; a nil reason is JSON null (the
// key is always present).
func AppendInterrupt(dst []byte, sessionKey string, reason *string) []byte {
	dst = append(dst, `{"type":"interrupt","session_key":`...)
	dst = jsonstr.Append(dst, sessionKey)
	dst = append(dst, `,"reason":`...)
	if reason == nil {
		dst = append(dst, "null"...)
	} else {
		dst = jsonstr.Append(dst, *reason)
	}
	return append(dst, "}\n"...)
}

// AppendGoingIdle appends a going_idle frame.
func AppendGoingIdle(dst []byte) []byte { return append(dst, `{"type":"going_idle"}`+"\n"...) }

// AppendInboundAck appends an inbound_ack frame.
func AppendInboundAck(dst []byte, bufferID string) []byte {
	dst = append(dst, `{"type":"inbound_ack","bufferId":`...)
	dst = jsonstr.Append(dst, bufferID)
	return append(dst, "}\n"...)
}
