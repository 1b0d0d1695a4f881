package events

import (
	"strings"
	"unicode"
)

// Message types (MessageEvent.MessageType). Wire enum: strings, append only.
const (
	MessageText     = "text"
	MessageLocation = "location"
	MessagePhoto    = "photo"
	MessageVideo    = "video"
	MessageAudio    = "audio"
	MessageVoice    = "voice"
	MessageDocument = "document"
	MessageSticker  = "sticker"
	MessageCommand  = "command"
)

// Chat types (SessionSource.ChatType). Wire enum: strings, append only.
const (
	ChatDM      = "dm"
	ChatGroup   = "group"
	ChatChannel = "channel"
	ChatThread  = "thread"
	ChatForum   = "forum"
)

// PlatformRelay is the platform of a source that names none (or one we do not know).
const PlatformRelay = "relay"

// knownPlatforms are the platforms the reference gateway's Platform enum
// knows; any other value normalises to PlatformRelay.
var knownPlatforms = map[string]bool{
	"relay": true, "local": true, "discord": true, "telegram": true, "slack": true,
	"whatsapp": true, "signal": true, "twilio": true, "sms": true, "email": true,
	"matrix": true, "mattermost": true, "homeassistant": true, "dingtalk": true,
	"feishu": true, "wecom": true, "weixin": true, "qq": true, "line": true,
	"teams": true, "webhook": true, "api": true, "imessage": true, "bluebubbles": true,
}

var messageTypes = map[string]bool{
	MessageText: true, MessageLocation: true, MessagePhoto: true, MessageVideo: true,
	MessageAudio: true, MessageVoice: true, MessageDocument: true, MessageSticker: true,
	MessageCommand: true,
}

var chatTypes = map[string]bool{ChatDM: true, ChatGroup: true, ChatChannel: true, ChatThread: true, ChatForum: true}

// MessageEvent is a normalized chat message (contract §4), as published on
// relay.inbound.message.<platform>.<chat>. The first seven keys are the
// contract's; the rest are relaybus additions agents may use.
type MessageEvent struct {
	Text             string        `json:"text" msgpack:"text"`
	MessageType      string        `json:"message_type" msgpack:"message_type"`
	MessageID        string        `json:"message_id,omitempty" msgpack:"message_id,omitempty"`
	ReplyToMessageID string        `json:"reply_to_message_id,omitempty" msgpack:"reply_to_message_id,omitempty"`
	MediaURLs        []string      `json:"media_urls,omitempty" msgpack:"media_urls,omitempty"`
	Media            []Media       `json:"media,omitempty" msgpack:"media,omitempty"`
	Source           SessionSource `json:"source" msgpack:"source"`

	// SessionKey is the conversation's key (SessionKey of Source); it is
	// also sent as the Relay-Session-Key header.
	SessionKey string `json:"session_key" msgpack:"session_key"`
	// Timestamp is when the message was created (RFC 3339, UTC), when known.
	Timestamp string `json:"timestamp,omitempty" msgpack:"timestamp,omitempty"`
	// PromptResponse is set when the message answers a prompt the agent posted.
	PromptResponse *PromptResponse `json:"prompt_response,omitempty" msgpack:"prompt_response,omitempty"`
	// Interaction keeps what the text of a Discord interaction loses.
	Interaction *Interaction `json:"interaction,omitempty" msgpack:"interaction,omitempty"`
	// Forward describes the provider request a passthrough event came from
	// (platform, bot id, method, path); never its body or credentials.
	Forward *ForwardInfo `json:"forward,omitempty" msgpack:"forward,omitempty"`
}

// Media is one attachment of a MessageEvent.
type Media struct {
	URL      string `json:"url" msgpack:"url"`
	Kind     string `json:"kind,omitempty" msgpack:"kind,omitempty"`
	MIME     string `json:"mime,omitempty" msgpack:"mime,omitempty"`
	Size     int64  `json:"size,omitempty" msgpack:"size,omitempty"`
	Filename string `json:"filename,omitempty" msgpack:"filename,omitempty"`
	Caption  string `json:"caption,omitempty" msgpack:"caption,omitempty"`
}

// SessionSource says where a message came from (contract §4). ScopeID and
// its deprecated alias GuildID always carry the same value after Normalize.
type SessionSource struct {
	Platform     string `json:"platform" msgpack:"platform"`
	ChatID       string `json:"chat_id" msgpack:"chat_id"`
	ChatType     string `json:"chat_type" msgpack:"chat_type"`
	ChatName     string `json:"chat_name,omitempty" msgpack:"chat_name,omitempty"`
	UserID       string `json:"user_id,omitempty" msgpack:"user_id,omitempty"`
	UserName     string `json:"user_name,omitempty" msgpack:"user_name,omitempty"`
	ThreadID     string `json:"thread_id,omitempty" msgpack:"thread_id,omitempty"`
	ChatTopic    string `json:"chat_topic,omitempty" msgpack:"chat_topic,omitempty"`
	UserIDAlt    string `json:"user_id_alt,omitempty" msgpack:"user_id_alt,omitempty"`
	ChatIDAlt    string `json:"chat_id_alt,omitempty" msgpack:"chat_id_alt,omitempty"`
	ScopeID      string `json:"scope_id,omitempty" msgpack:"scope_id,omitempty"`
	GuildID      string `json:"guild_id,omitempty" msgpack:"guild_id,omitempty"`
	ParentChatID string `json:"parent_chat_id,omitempty" msgpack:"parent_chat_id,omitempty"`
	MessageID    string `json:"message_id,omitempty" msgpack:"message_id,omitempty"`
	Profile      string `json:"profile,omitempty" msgpack:"profile,omitempty"`
	IsBot        bool   `json:"is_bot,omitempty" msgpack:"is_bot,omitempty"`
}

// PromptResponse is a user's answer to a prompt the agent posted with
// buttons whose custom ids are "hp1:<prompt_id>:<option_id>".
type PromptResponse struct {
	PromptID        string `json:"prompt_id" msgpack:"prompt_id"`
	OptionID        string `json:"option_id" msgpack:"option_id"`
	PromptMessageID string `json:"prompt_message_id,omitempty" msgpack:"prompt_message_id,omitempty"`
}

// ForwardInfo describes the provider request behind a passthrough event.
type ForwardInfo struct {
	Platform string `json:"platform" msgpack:"platform"`
	BotID    string `json:"bot_id,omitempty" msgpack:"bot_id,omitempty"`
	Method   string `json:"method,omitempty" msgpack:"method,omitempty"`
	Path     string `json:"path,omitempty" msgpack:"path,omitempty"`
}

// Interaction is the structured part of a Discord interaction event: the
// command path, typed options, component and modal data and context-menu
// targets that the rendered text flattens or drops. It never holds the
// interaction token.
type Interaction struct {
	ID            string `json:"id" msgpack:"id"`
	ApplicationID string `json:"application_id,omitempty" msgpack:"application_id,omitempty"`
	// Kind is "application_command", "message_component" or "modal_submit".
	Kind string `json:"kind" msgpack:"kind"`
	// Context is "guild", "bot_dm" or "private_channel" (Discord's 0/1/2).
	Context     string `json:"context,omitempty" msgpack:"context,omitempty"`
	Locale      string `json:"locale,omitempty" msgpack:"locale,omitempty"`
	GuildLocale string `json:"guild_locale,omitempty" msgpack:"guild_locale,omitempty"`
	// AuthorizingIntegrationOwners maps "0" (guild install) and "1" (user
	// install) to their owner ids.
	AuthorizingIntegrationOwners map[string]string `json:"authorizing_integration_owners,omitempty" msgpack:"authorizing_integration_owners,omitempty"`
	AppPermissions               string            `json:"app_permissions,omitempty" msgpack:"app_permissions,omitempty"`

	Command   *Command   `json:"command,omitempty" msgpack:"command,omitempty"`
	Component *Component `json:"component,omitempty" msgpack:"component,omitempty"`
	Modal     *Modal     `json:"modal,omitempty" msgpack:"modal,omitempty"`
}

// Command is an application command invocation.
type Command struct {
	ID   string `json:"id,omitempty" msgpack:"id,omitempty"`
	Name string `json:"name" msgpack:"name"`
	// Type is "chat_input", "user", "message" or "primary_entry_point".
	Type string `json:"type" msgpack:"type"`
	// Path is the command name followed by its group and subcommand names.
	Path    []string        `json:"path" msgpack:"path"`
	Options []CommandOption `json:"options,omitempty" msgpack:"options,omitempty"`
	// Target is the user or message a context-menu command was used on.
	Target *CommandTarget `json:"target,omitempty" msgpack:"target,omitempty"`
}

// CommandOption is one leaf option of a command.
type CommandOption struct {
	Name string `json:"name" msgpack:"name"`
	// Type is "string", "integer", "boolean", "user", "channel", "role",
	// "mentionable", "number" or "attachment".
	Type string `json:"type" msgpack:"type"`
	// Value is the option's value as a string (numbers in decimal, booleans
	// "true"/"false", entities by id).
	Value string `json:"value" msgpack:"value"`
	// Display is a human name for entity values ("@Bob", "#support",
	// a filename), when resolved.
	Display string `json:"display,omitempty" msgpack:"display,omitempty"`
}

// CommandTarget is the target of a USER or MESSAGE context-menu command.
type CommandTarget struct {
	// Kind is "user" or "message".
	Kind    string `json:"kind" msgpack:"kind"`
	ID      string `json:"id" msgpack:"id"`
	Display string `json:"display,omitempty" msgpack:"display,omitempty"`
	// Content and AuthorID are set for message targets.
	Content  string `json:"content,omitempty" msgpack:"content,omitempty"`
	AuthorID string `json:"author_id,omitempty" msgpack:"author_id,omitempty"`
}

// Component is a clicked button or a used select menu.
type Component struct {
	CustomID string `json:"custom_id" msgpack:"custom_id"`
	// Type is "button", "string_select", "user_select", "role_select",
	// "mentionable_select" or "channel_select".
	Type string `json:"type" msgpack:"type"`
	// Label is the button's label or the select's placeholder, looked up in
	// the message's components.
	Label string `json:"label,omitempty" msgpack:"label,omitempty"`
	// Values are the selected values; ValueLabels their labels (same order)
	// where the message or the resolved data names them.
	Values      []string `json:"values,omitempty" msgpack:"values,omitempty"`
	ValueLabels []string `json:"value_labels,omitempty" msgpack:"value_labels,omitempty"`
}

// Modal is a submitted modal.
type Modal struct {
	CustomID string       `json:"custom_id" msgpack:"custom_id"`
	Fields   []ModalField `json:"fields,omitempty" msgpack:"fields,omitempty"`
}

// ModalField is one submitted modal field.
type ModalField struct {
	CustomID string `json:"custom_id" msgpack:"custom_id"`
	// Type is "text_input", "string_select", ..., "file_upload",
	// "radio_group", "checkbox_group" or "checkbox".
	Type   string   `json:"type" msgpack:"type"`
	Value  string   `json:"value" msgpack:"value"`
	Values []string `json:"values,omitempty" msgpack:"values,omitempty"`
}

// Interrupt is a user's /stop for one running session, published on
// relay.inbound.interrupt.<platform>.<chat>.
type Interrupt struct {
	SessionKey string `json:"session_key" msgpack:"session_key"`
	ChatID     string `json:"chat_id" msgpack:"chat_id"`
	Platform   string `json:"platform,omitempty" msgpack:"platform,omitempty"`
}

// Scope is a chat's routing record in the relay_scope bucket.
//
// Platform and BotID are the identity the chat's traffic came in on (the
// forward's platform/botId for a passthrough, the event's source platform
// with the configured bot id for an inbound): egress tags every outbound
// frame for the chat with them when more than one identity is configured
// (contract §6 "Identity of a reply").
type Scope struct {
	ScopeID   string `json:"scope_id,omitempty" msgpack:"scope_id,omitempty"`
	UserID    string `json:"user_id,omitempty" msgpack:"user_id,omitempty"`
	Platform  string `json:"platform" msgpack:"platform"`
	BotID     string `json:"bot_id,omitempty" msgpack:"bot_id,omitempty"`
	ChatType  string `json:"chat_type,omitempty" msgpack:"chat_type,omitempty"`
	Profile   string `json:"profile,omitempty" msgpack:"profile,omitempty"`
	UpdatedAt string `json:"updated_at,omitempty" msgpack:"updated_at,omitempty"`
}

// SameRoute reports whether two scope records route egress identically
// (everything but UpdatedAt is equal).
func (s Scope) SameRoute(o Scope) bool {
	s.UpdatedAt, o.UpdatedAt = "", ""
	return s == o
}

// ScopeOf returns the scope record of an event's source.
func ScopeOf(src SessionSource) Scope {
	return Scope{ScopeID: src.ScopeID, UserID: src.UserID, Platform: src.Platform, ChatType: src.ChatType, Profile: src.Profile}
}

// Normalize applies the contract's defaults and fallbacks in place: unknown
// or missing message_type is text; unknown or missing platform is relay;
// unknown or missing chat_type is dm; scope_id and guild_id mirror each other
// (scope_id wins); nil media slices stay nil. It also fills SessionKey when
// empty.
func (e *MessageEvent) Normalize() {
	if !messageTypes[e.MessageType] {
		e.MessageType = MessageText
	}
	e.Source.Normalize()
	if e.SessionKey == "" {
		e.SessionKey = SessionKey(e.Source, SessionKeyOptions{})
	}
}

// Normalize applies SessionSource defaults in place (see MessageEvent.Normalize).
func (s *SessionSource) Normalize() {
	if !knownPlatforms[s.Platform] {
		s.Platform = PlatformRelay
	}
	if !chatTypes[s.ChatType] {
		s.ChatType = ChatDM
	}
	switch {
	case s.ScopeID != "":
		s.GuildID = s.ScopeID
	case s.GuildID != "":
		s.ScopeID = s.GuildID
	}
}

// IsCommand reports whether the text is a slash command: after leading
// whitespace (Unicode spaces included, as Python's str.lstrip strips them)
// it starts with "/".
func IsCommand(text string) bool {
	return strings.HasPrefix(strings.TrimLeftFunc(text, unicode.IsSpace), "/")
}

// CommandName returns a command's name: the first word without "/",
// lower-cased, with an "@bot" suffix removed. It returns "" for non-commands.
func CommandName(text string) string {
	t := strings.TrimLeftFunc(text, unicode.IsSpace)
	if !strings.HasPrefix(t, "/") {
		return ""
	}
	word := t[1:]
	if i := strings.IndexFunc(word, unicode.IsSpace); i >= 0 {
		word = word[:i]
	}
	if i := strings.IndexByte(word, '@'); i >= 0 {
		word = word[:i]
	}
	return strings.ToLower(word)
}

// CommandArgs returns what follows a command's first whitespace, without
// leading whitespace (trailing whitespace is kept), or "".
func CommandArgs(text string) string {
	t := strings.TrimLeftFunc(text, unicode.IsSpace)
	if !strings.HasPrefix(t, "/") {
		return ""
	}
	i := strings.IndexFunc(t, unicode.IsSpace)
	if i < 0 {
		return ""
	}
	return strings.TrimLeftFunc(t[i:], unicode.IsSpace)
}
