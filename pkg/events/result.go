package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// Result codes and errors the gateway side synthesizes (contract §2).
const (
	ErrTextNotConnected = "relay transport not connected"
	ErrTextConnLost     = "relay transport connection lost"
	ErrTextTimedOut     = "relay outbound timed out"
	// ErrTextInterrupted is egress's answer to a redelivered action that a
	// replica had begun writing before it stopped without storing a result:
	// the connector may have acted on it, so it is not written again.
	ErrTextInterrupted = "relay outbound interrupted: the gateway stopped while writing it; outcome unknown"
	// CodeEgressDeclined is the connector's code for a declined action.
	CodeEgressDeclined = "egress_declined"
)

// SendResult is the outcome of an action, published on
// relay.results.<action id>.
type SendResult struct {
	Success   bool   `json:"success" msgpack:"success"`
	MessageID string `json:"message_id,omitempty" msgpack:"message_id,omitempty"`
	Error     string `json:"error,omitempty" msgpack:"error,omitempty"`
	Code      string `json:"code,omitempty" msgpack:"code,omitempty"`
	// Ambiguous means the frame was written but no result came back: the
	// action may or may not have happened, so it is never retried blindly.
	Ambiguous bool `json:"ambiguous,omitempty" msgpack:"ambiguous,omitempty"`
	// ContinuationMessageIDs are the ids of the further parts of a send
	// that was split to the platform's length limit.
	ContinuationMessageIDs []string `json:"continuation_message_ids,omitempty" msgpack:"continuation_message_ids,omitempty"`
	ThreadID               string   `json:"thread_id,omitempty" msgpack:"thread_id,omitempty"`
	// ChatInfo is get_chat_info's answer.
	ChatInfo *ChatInfo `json:"chat_info,omitempty" msgpack:"chat_info,omitempty"`
}

// ChatInfo is a chat's name and type.
type ChatInfo struct {
	Name string `json:"name" msgpack:"name"`
	Type string `json:"type" msgpack:"type"`
}

// Synthesized results.
var (
	ResultNotConnected = SendResult{Success: false, Error: ErrTextNotConnected}
	ResultConnLost     = SendResult{Success: false, Error: ErrTextConnLost, Ambiguous: true}
	ResultTimedOut     = SendResult{Success: false, Error: ErrTextTimedOut, Ambiguous: true}
	ResultInterrupted  = SendResult{Success: false, Error: ErrTextInterrupted, Ambiguous: true}
)

// Declined reports whether the connector declined the action (code
// egress_declined, or an error text containing "egress declined:"). A decline
// is final.
func (r SendResult) Declined() bool {
	return !r.Success && (r.Code == CodeEgressDeclined || strings.Contains(strings.ToLower(r.Error), "egress declined:"))
}

// Transient reports whether the result says the action was never written
// to the connector ("not connected": no socket, or its frame was still
// queued when the socket went), so that retrying cannot duplicate it. A
// frame whose write began and whose result never came ("connection lost",
// "timed out") is ambiguous, not transient: it is never retried.
func (r SendResult) Transient() bool {
	return !r.Success && !r.Ambiguous && r.Error == ErrTextNotConnected
}

// ParseResult reads a connector result object leniently: ids may be strings
// or numbers (kept digit for digit: a Discord snowflake does not fit a
// float64), a success or ambiguous flag that is not a JSON boolean reads as
// false, unknown keys are ignored, and get_chat_info's name/type may be
// nested in chat_info or at the top level. JSON null reads as {}. Only input
// that is not a JSON object is an error (a *FrameError, ReasonWrongType).
func ParseResult(raw []byte) (SendResult, error) {
	var w struct {
		Success   any             `json:"success"`
		MessageID any             `json:"message_id"`
		Error     any             `json:"error"`
		Code      any             `json:"code"`
		Ambiguous any             `json:"ambiguous"`
		ThreadID  any             `json:"thread_id"`
		ChatInfo  json.RawMessage `json:"chat_info"`
		Name      any             `json:"name"`
		Type      any             `json:"type"`
		Cont      any             `json:"continuation_message_ids"`
	}
	if err := decodeNumbers(raw, &w); err != nil {
		return SendResult{}, frameErr(ReasonWrongType, "result", "%v", err)
	}
	r := SendResult{
		Success:   w.Success == true,
		MessageID: scalarString(w.MessageID),
		Error:     scalarString(w.Error),
		Code:      scalarString(w.Code),
		Ambiguous: w.Ambiguous == true,
		ThreadID:  scalarString(w.ThreadID),
	}
	if ids, ok := w.Cont.([]any); ok {
		for _, c := range ids {
			if id := scalarString(c); id != "" {
				r.ContinuationMessageIDs = append(r.ContinuationMessageIDs, id)
			}
		}
	}
	var ci struct {
		Name any `json:"name"`
		Type any `json:"type"`
	}
	if len(w.ChatInfo) > 0 && decodeNumbers(w.ChatInfo, &ci) == nil && (ci.Name != nil || ci.Type != nil) {
		r.ChatInfo = &ChatInfo{Name: scalarString(ci.Name), Type: scalarString(ci.Type)}
	} else if w.Name != nil || w.Type != nil {
		r.ChatInfo = &ChatInfo{Name: scalarString(w.Name), Type: scalarString(w.Type)}
	}
	return r, nil
}

// decodeNumbers is json.Unmarshal with numbers kept as json.Number: exactly
// one JSON value, nothing but whitespace after it.
func decodeNumbers(raw []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if len(trimSpace(raw[d.InputOffset():])) != 0 {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// trimSpace trims JSON whitespace from both ends.
func trimSpace(b []byte) []byte { return bytes.Trim(b, " \t\r\n") }

func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

// Error is an error that crosses the bus (a reply to a request that failed):
// a stable Code and a message safe to show. Details stay in the logs.
type Error struct {
	Code    string `json:"code" msgpack:"code"`
	Message string `json:"message" msgpack:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }
