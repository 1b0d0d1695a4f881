package events

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/relaybus/relaybus/pkg/internal/jsonstr"
	"github.com/vmihailenco/msgpack/v5"
)

// Action ops (contract §2 plus the bus-only interrupt). Wire enum: strings,
// append only.
const (
	OpSend        = "send"
	OpFollowUp    = "follow_up"
	OpEdit        = "edit"
	OpTyping      = "typing"
	OpGetChatInfo = "get_chat_info"
	OpDelete      = "delete"
	OpReact       = "react"
	// OpInterrupt is published by agents on relay.outbound.interrupt and
	// written to the connector as an interrupt frame, not an outbound action.
	OpInterrupt = "interrupt"
)

// FollowUpKindDiscord is the follow_up kind that answers a Discord
// interaction through the token the connector vaulted.
const FollowUpKindDiscord = "discord.interaction_token"

// LegacyOps is the op set a descriptor with an empty supported_ops accepts.
var LegacyOps = []string{OpSend, OpEdit, OpTyping, OpFollowUp}

// BusOps are the ops agents may publish on relay.outbound.<op>.
var BusOps = []string{OpSend, OpFollowUp, OpEdit, OpTyping, OpDelete, OpReact, OpInterrupt}

// Action is an agent's reply action. One struct carries every op; which keys
// an op uses (and requires) is fixed by the contract and enforced by
// Validate, and AppendJSON writes exactly that op's keys.
type Action struct {
	Op         string         `json:"op" msgpack:"op"`
	ChatID     string         `json:"chat_id,omitempty" msgpack:"chat_id,omitempty"`
	Content    string         `json:"content,omitempty" msgpack:"content,omitempty"`
	ReplyTo    *string        `json:"reply_to,omitempty" msgpack:"reply_to,omitempty"`
	MessageID  string         `json:"message_id,omitempty" msgpack:"message_id,omitempty"`
	SessionKey string         `json:"session_key,omitempty" msgpack:"session_key,omitempty"`
	Kind       string         `json:"kind,omitempty" msgpack:"kind,omitempty"`
	Emoji      string         `json:"emoji,omitempty" msgpack:"emoji,omitempty"`
	Remove     bool           `json:"remove,omitempty" msgpack:"remove,omitempty"`
	Reason     *string        `json:"reason,omitempty" msgpack:"reason,omitempty"`
	Metadata   map[string]any `json:"metadata,omitempty" msgpack:"metadata,omitempty"`
	// Platform and BotID pick the fronted identity that sends the action;
	// they travel on the outbound envelope, not inside the action.
	Platform string `json:"platform,omitempty" msgpack:"platform,omitempty"`
	BotID    string `json:"bot_id,omitempty" msgpack:"bot_id,omitempty"`
}

// opKey is one key of an op's contract JSON object.
type opKey struct {
	name     string
	required bool // Validate: the key must be non-empty
}

// opKeys lists each op's keys after "op", in the order of its contract
// JSON object (AppendJSON), and which of them are required (Validate).
var opKeys = map[string][]opKey{
	OpSend:        {{"chat_id", true}, {"content", true}, {"reply_to", false}, {"metadata", false}},
	OpFollowUp:    {{"session_key", true}, {"kind", false}, {"content", true}, {"metadata", false}},
	OpEdit:        {{"chat_id", true}, {"message_id", true}, {"content", true}, {"metadata", false}},
	OpTyping:      {{"chat_id", true}, {"metadata", false}},
	OpGetChatInfo: {{"chat_id", true}},
	OpDelete:      {{"chat_id", true}, {"message_id", true}, {"metadata", false}},
	OpReact:       {{"chat_id", true}, {"message_id", true}, {"emoji", true}, {"remove", false}, {"metadata", false}},
	OpInterrupt:   {{"session_key", true}, {"reason", false}},
}

// KnownOp reports whether op is an action op of the contract.
func KnownOp(op string) bool { _, ok := opKeys[op]; return ok }

// ChatAddressed reports whether an op targets a chat (and so gets the
// chat's scope re-attached by egress).
func ChatAddressed(op string) bool {
	switch op {
	case OpSend, OpEdit, OpTyping, OpDelete, OpReact, OpGetChatInfo:
		return true
	}
	return false
}

// Validate checks the op and its required keys; errors are *ActionError
// naming the field.
func (a *Action) Validate() error {
	keys, ok := opKeys[a.Op]
	if !ok {
		if a.Op == "" {
			return &ActionError{Reason: ReasonMissingField, Field: "op", Detail: "action has no op"}
		}
		return &ActionError{Reason: ReasonUnknownOp, Field: "op", Detail: fmt.Sprintf("unknown op %q", a.Op)}
	}
	for _, k := range keys {
		if k.required && a.field(k.name) == "" {
			return &ActionError{Reason: ReasonMissingField, Field: k.name, Detail: fmt.Sprintf("%s needs a non-empty %s", a.Op, k.name)}
		}
	}
	return nil
}

// field returns the string field of key k ("" for other keys).
func (a *Action) field(k string) string {
	switch k {
	case "kind":
		return a.Kind
	case "chat_id":
		return a.ChatID
	case "content":
		return a.Content
	case "message_id":
		return a.MessageID
	case "session_key":
		return a.SessionKey
	case "emoji":
		return a.Emoji
	}
	return ""
}

// DecodeAction decodes an action published on relay.outbound.<op>.
//
// contentType selects the codec: MessagePack or JSON, empty meaning
// MessagePack (what the Go client sends); parameters such as
// "; charset=utf-8" and letter case are ignored. The payload must be one
// map (JSON object); otherwise the reason is ReasonNotJSON, ReasonNotObject
// or ReasonBadEncoding. subjectOp, when not empty, is the op from the
// subject: an action without op takes it, a different op is an error. A
// follow_up without kind gets FollowUpKindDiscord. The action is validated;
// when only validation fails, the decoded action is returned with the
// error. Errors are *ActionError naming the field.
func DecodeAction(data []byte, contentType, subjectOp string) (Action, error) {
	var a Action
	var err error
	switch mediaType(contentType) {
	case ContentTypeJSON:
		t := trimSpace(data)
		if !json.Valid(t) {
			return Action{}, &ActionError{Reason: ReasonNotJSON, Detail: "action is not JSON"}
		}
		if t[0] != '{' {
			return Action{}, &ActionError{Reason: ReasonNotObject, Detail: "action is not a JSON object"}
		}
		if err = json.Unmarshal(t, &a); err != nil {
			return Action{}, actionTypeError(err, func(m *map[string]any) error { return json.Unmarshal(t, m) })
		}
	case ContentTypeMsgpack, "":
		if err = checkMsgpack(data); err != nil {
			return Action{}, &ActionError{Reason: ReasonBadEncoding, Detail: err.Error()}
		}
		// msgpack/v5 would also decode an array into the struct, field by
		// field; the contract's action is a map.
		if c := data[0]; !(c >= 0x80 && c <= 0x8f || c == 0xde || c == 0xdf) {
			return Action{}, &ActionError{Reason: ReasonNotObject, Detail: "action is not a MessagePack map"}
		}
		if _, err = decodeMsgpack(data, &a); err != nil {
			return Action{}, actionTypeError(err, func(m *map[string]any) error { return msgpack.Unmarshal(data, m) })
		}
	default:
		return Action{}, &ActionError{Reason: ReasonBadEncoding, Field: ContentTypeHeader, Detail: fmt.Sprintf("unsupported content type %q", contentType)}
	}
	return completeAction(a, subjectOp)
}

// completeAction is DecodeAction's last step, after decoding: the op from
// the subject, the follow_up default kind, and validation.
func completeAction(a Action, subjectOp string) (Action, error) {
	if subjectOp != "" {
		if a.Op == "" {
			a.Op = subjectOp
		} else if a.Op != subjectOp {
			return Action{}, &ActionError{Reason: ReasonWrongType, Field: "op", Detail: fmt.Sprintf("op %q published on the %q subject", a.Op, subjectOp)}
		}
	}
	if a.Op == OpFollowUp && a.Kind == "" {
		a.Kind = FollowUpKindDiscord
	}
	return a, a.Validate()
}

// actionTypeError re-decodes a failed action generically to say which
// field has the wrong type: the first, in field order, whose value is
// neither null nor of its kind in actionCodec.
func actionTypeError(err error, generic func(*map[string]any) error) error {
	var m map[string]any
	if gerr := generic(&m); gerr != nil || m == nil {
		return &ActionError{Reason: ReasonBadEncoding, Detail: err.Error()}
	}
	for _, f := range actionCodec.fields {
		v, ok := m[f.key]
		if !ok || v == nil {
			continue
		}
		switch f.kind {
		case "string":
			_, ok = v.(string)
		case "bool":
			_, ok = v.(bool)
		case "object":
			_, ok = v.(map[string]any)
		}
		if !ok {
			return &ActionError{Reason: ReasonWrongType, Field: f.key, Detail: fmt.Sprintf("%s must be a %s, got %T", f.key, f.kind, v)}
		}
	}
	return &ActionError{Reason: ReasonBadEncoding, Detail: err.Error()}
}

// AppendJSON appends the action as the contract's JSON action object, with
// exactly the keys of its op in opKeys (reply_to always present for send;
// metadata always an object). It is what goes into an outbound frame.
func (a *Action) AppendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, `{"op":`...)
	dst = jsonstr.Append(dst, a.Op)
	keys, ok := opKeys[a.Op]
	if !ok {
		return dst, &ActionError{Reason: ReasonUnknownOp, Field: "op", Detail: fmt.Sprintf("unknown op %q", a.Op)}
	}
	for _, k := range keys {
		dst = append(dst, ',', '"')
		dst = append(dst, k.name...)
		dst = append(dst, '"', ':')
		switch k.name {
		case "reply_to":
			dst = appendNullable(dst, a.ReplyTo)
		case "reason":
			dst = appendNullable(dst, a.Reason)
		case "remove":
			dst = strconv.AppendBool(dst, a.Remove)
		case "metadata":
			if len(a.Metadata) == 0 {
				dst = append(dst, "{}"...)
				break
			}
			m, err := json.Marshal(a.Metadata)
			if err != nil {
				return dst, &ActionError{Reason: ReasonWrongType, Field: "metadata", Detail: err.Error()}
			}
			dst = append(dst, m...)
		default:
			dst = jsonstr.Append(dst, a.field(k.name))
		}
	}
	return append(dst, '}'), nil
}

// appendNullable appends a *string: the string, or null when unset.
func appendNullable(dst []byte, v *string) []byte {
	if v == nil {
		return append(dst, "null"...)
	}
	return jsonstr.Append(dst, *v)
}

// MetadataString returns metadata[key] when it is a non-empty string.
func (a *Action) MetadataString(key string) string {
	s, _ := a.Metadata[key].(string)
	return s
}

// SetMetadataDefault sets metadata[key] = value unless the key is already
// set to a non-empty value or value is empty.
func (a *Action) SetMetadataDefault(key, value string) {
	if value == "" {
		return
	}
	if v, ok := a.Metadata[key]; ok && v != nil && v != "" {
		return
	}
	if a.Metadata == nil {
		a.Metadata = make(map[string]any, 4)
	}
	a.Metadata[key] = value
}
