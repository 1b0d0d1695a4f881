package events

import (
	"errors"
	"fmt"
)

var (
	// ErrBadFrame classifies every *FrameError: those of the codecs and
	// ParseResult here, and of the connector frame decoders in package wire
	// (DecodeFrame and its payload decoders). Use errors.As with *FrameError
	// for the reason.
	ErrBadFrame = errors.New("events: bad frame")

	// ErrBadAction classifies every error returned by DecodeAction and
	// (*Action).Validate. Use errors.As with *ActionError for the field.
	ErrBadAction = errors.New("events: bad action")
)

// Reasons a frame, body or action is rejected. They are stable: they appear
// as metric labels and in the Relay-Error-Code header of dead letters. Never
// rename one; only append.
const (
	ReasonNotJSON       = "not_json"       // the bytes are not JSON at all
	ReasonNotObject     = "not_object"     // valid JSON, but not an object
	ReasonMissingType   = "missing_type"   // no (or an empty) "type" key
	ReasonMissingField  = "missing_field"  // a required key is absent or empty
	ReasonNullField     = "null_field"     // a required object is JSON null
	ReasonWrongType     = "wrong_type"     // a key holds the wrong JSON type
	ReasonOversized     = "oversized"      // larger than the configured limit
	ReasonBadBase64     = "bad_base64"     // bodyB64 is not strict standard base64
	ReasonBadBody       = "bad_body"       // a forwarded body is not what its platform sends
	ReasonUnsupported   = "unsupported"    // a platform or kind we do not convert
	ReasonUnknownOp     = "unknown_op"     // an action op outside the contract
	ReasonBadEncoding   = "bad_encoding"   // undecodable MessagePack or unknown Content-Type
	ReasonDeclined      = "declined"       // the connector's egress guard declined the action
	ReasonOpUnsupported = "op_unsupported" // the connector's descriptor does not list the op
	ReasonExpired       = "expired"        // the action's deadline passed before delivery
	ReasonAmbiguousKey  = "ambiguous_key"  // a key differs from a contract key only in letter case
)

// FrameError says why a connector frame (or the payload inside one) was
// rejected. Reason is one of the Reason constants; Field names the key at
// fault when there is one.
type FrameError struct {
	Reason string
	Field  string
	Detail string
}

func (e *FrameError) Error() string { return badMessage("frame", e.Reason, e.Field, e.Detail) }

// Is makes errors.Is(err, ErrBadFrame) true for every *FrameError.
func (e *FrameError) Is(target error) bool { return target == ErrBadFrame }

func frameErr(reason, field, format string, args ...any) *FrameError {
	return &FrameError{Reason: reason, Field: field, Detail: fmt.Sprintf(format, args...)}
}

// ActionError says why an agent's action was rejected. Reason is one of the
// Reason constants; Field names the key at fault.
type ActionError struct {
	Reason string
	Field  string
	Detail string
}

func (e *ActionError) Error() string { return badMessage("action", e.Reason, e.Field, e.Detail) }

// badMessage is the text of a *FrameError or *ActionError:
// "events: bad <what>: <reason> (<field>): <detail>", each part when set.
func badMessage(what, reason, field, detail string) string {
	msg := "events: bad " + what + ": " + reason
	if field != "" {
		msg += " (" + field + ")"
	}
	if detail != "" {
		msg += ": " + detail
	}
	return msg
}

// Is makes errors.Is(err, ErrBadAction) true for every *ActionError.
func (e *ActionError) Is(target error) bool { return target == ErrBadAction }

// Reason returns the stable reason of a *FrameError or *ActionError anywhere
// in err's chain, or "internal" for anything else.
func Reason(err error) string {
	var fe *FrameError
	if errors.As(err, &fe) {
		return fe.Reason
	}
	var ae *ActionError
	if errors.As(err, &ae) {
		return ae.Reason
	}
	return "internal"
}
