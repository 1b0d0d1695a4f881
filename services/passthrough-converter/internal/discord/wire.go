package discord

import "encoding/json"

// Interaction types (the top-level "type").
const (
	typePing                   = 1
	typeApplicationCommand     = 2
	typeMessageComponent       = 3
	typeCommandAutocomplete    = 4
	typeModalSubmit            = 5
	channelAnnouncementThread  = 10
	channelPublicThread        = 11
	channelPrivateThread       = 12
	optionSubCommand           = 1
	optionSubCommandGroup      = 2
	optionAttachment           = 11
	componentStringSelect      = 3
	componentFileUpload        = 19
	commandTypeUser            = 2
	commandTypeMessage         = 3
	maxComponentDepth          = 32 // Discord nests components at most 3–4 deep
	maxOptionDepth             = 8  // command → group → subcommand → parameter
	maxPromptIDLen             = 32
	promptCustomIDPrefix       = "hp1"
	discordEpochMillis         = 1420070400000
	snowflakeTimestampShift    = 22
	timestampLayoutRFC3339Msec = "2006-01-02T15:04:05.000Z07:00"
)

// wireInteraction is the part of an interaction body the converter reads.
// Fields decode strictly: a known key holding the wrong JSON type is a bad
// body. Components and resolved data are kept raw and decoded leniently when
// needed. There is deliberately no field for "token".
type wireInteraction struct {
	ID             *string      `json:"id"`
	ApplicationID  string       `json:"application_id"`
	Type           *int         `json:"type"`
	Data           *wireData    `json:"data"`
	GuildID        string       `json:"guild_id"`
	ChannelID      string       `json:"channel_id"`
	Channel        *wireChannel `json:"channel"`
	Member         *wireMember  `json:"member"`
	User           *wireUser    `json:"user"`
	Message        *wireMessage `json:"message"`
	AppPermissions string       `json:"app_permissions"`
	Locale         string       `json:"locale"`
	GuildLocale    string       `json:"guild_locale"`
	// AuthorizingIntegrationOwners values are strings today, numbers in
	// older payloads.
	AuthorizingIntegrationOwners map[string]json.RawMessage `json:"authorizing_integration_owners"`
	Context                      *int                       `json:"context"`
}

// wireData is the union of the "data" shapes of types 2, 3 and 5.
type wireData struct {
	// ID is a snowflake string for commands and a number for components.
	ID       json.RawMessage `json:"id"`
	Name     string          `json:"name"`
	Type     int             `json:"type"`
	Options  []wireOption    `json:"options"`
	TargetID string          `json:"target_id"`
	// Resolved is decoded leniently, and only when something needs it.
	Resolved      json.RawMessage   `json:"resolved"`
	CustomID      string            `json:"custom_id"`
	ComponentType int               `json:"component_type"`
	Values        []json.RawMessage `json:"values"`
	// Components (modal submits) are decoded leniently.
	Components json.RawMessage `json:"components"`
}

type wireOption struct {
	Name    string          `json:"name"`
	Type    int             `json:"type"`
	Value   json.RawMessage `json:"value"`
	Options []wireOption    `json:"options"`
}

type wireChannel struct {
	ID       string `json:"id"`
	Type     int    `json:"type"`
	Name     string `json:"name"`
	ParentID string `json:"parent_id"`
	Topic    string `json:"topic"`
}

type wireMember struct {
	Nick string    `json:"nick"`
	User *wireUser `json:"user"`
}

type wireUser struct {
	ID         string `json:"id"`
	Username   string `json:"username"`
	GlobalName string `json:"global_name"`
	Bot        bool   `json:"bot"`
}

type wireMessage struct {
	ID string `json:"id"`
	// Components are decoded leniently, only to look labels up.
	Components json.RawMessage `json:"components"`
}

// wireResolved is data.resolved. It is decoded leniently: an entry of the
// wrong shape only loses its display name.
type wireResolved struct {
	Users       map[string]wireUser            `json:"users"`
	Members     map[string]wireMember          `json:"members"`
	Roles       map[string]wireRole            `json:"roles"`
	Channels    map[string]wireChannel         `json:"channels"`
	Messages    map[string]wireResolvedMessage `json:"messages"`
	Attachments map[string]wireAttachment      `json:"attachments"`
}

type wireRole struct {
	Name string `json:"name"`
}

type wireResolvedMessage struct {
	Content string    `json:"content"`
	Author  *wireUser `json:"author"`
}

type wireAttachment struct {
	Filename    string `json:"filename"`
	Size        int64  `json:"size"`
	URL         string `json:"url"`
	ContentType string `json:"content_type"`
}

// wireComponent is any component, in a message or in a modal submit. Its
// kind is "type" (modal submits, messages) or "component_type" (component
// interaction data); only "type" appears here.
type wireComponent struct {
	Type        int                `json:"type"`
	CustomID    string             `json:"custom_id"`
	Label       string             `json:"label"`
	Placeholder string             `json:"placeholder"`
	Options     []wireSelectOption `json:"options"`
	Components  []wireComponent    `json:"components"`
	Component   *wireComponent     `json:"component"`
	Accessory   *wireComponent     `json:"accessory"`
	Value       json.RawMessage    `json:"value"`
	Values      []json.RawMessage  `json:"values"`
}

type wireSelectOption struct {
	Label string `json:"label"`
	Value string `json:"value"`
}
