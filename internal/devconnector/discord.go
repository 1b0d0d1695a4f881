package devconnector

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/relaybus/relaybus/pkg/events"
)

// interactionPing is Discord's PING interaction type, answered inline.
const interactionPing = 1

// interaction is what the dev connector reads from a raw Discord interaction:
// enough to vault its token under the session key the gateway will compute
// (contract §5) and to learn guild chats for the egress guard.
type interaction struct {
	id            string
	applicationID string
	typ           int
	token         string
	hasToken      bool // a "token" key is present (whatever its value)
	guildID       string
	source        events.SessionSource
}

// interactionWire is the part of a Discord interaction the connector reads.
// Every field is raw so that a value of an unexpected type reads as absent
// instead of failing the whole body.
type interactionWire struct {
	ID            json.RawMessage `json:"id"`
	ApplicationID json.RawMessage `json:"application_id"`
	Type          json.RawMessage `json:"type"`
	Token         json.RawMessage `json:"token"`
	GuildID       json.RawMessage `json:"guild_id"`
	ChannelID     json.RawMessage `json:"channel_id"`
	Channel       json.RawMessage `json:"channel"`
	Member        json.RawMessage `json:"member"`
	User          json.RawMessage `json:"user"`
}

type channelWire struct {
	ID       json.RawMessage `json:"id"`
	Type     json.RawMessage `json:"type"`
	ParentID json.RawMessage `json:"parent_id"`
}

type memberWire struct {
	User json.RawMessage `json:"user"`
}

type userWire struct {
	ID json.RawMessage `json:"id"`
}

// parseInteraction reads a Discord interaction body. It fails only when the
// body is not a JSON object; ids may be strings or numbers, and keys of the
// wrong shape read as absent.
func parseInteraction(body []byte, platform, profile string) (interaction, bool) {
	t := bytes.TrimSpace(body)
	var w interactionWire
	if len(t) == 0 || t[0] != '{' || json.Unmarshal(t, &w) != nil {
		return interaction{}, false
	}
	in := interaction{
		id:            scalar(w.ID),
		applicationID: scalar(w.ApplicationID),
		guildID:       scalar(w.GuildID),
		hasToken:      w.Token != nil,
	}
	in.typ, _ = strconv.Atoi(scalar(w.Type))
	_ = json.Unmarshal(w.Token, &in.token)

	var ch channelWire
	decodeObject(w.Channel, &ch)
	chatID := scalar(w.ChannelID)
	if chatID == "" {
		chatID = scalar(ch.ID)
	}
	var m memberWire
	var u userWire
	decodeObject(w.Member, &m)
	if !decodeObject(m.User, &u) {
		decodeObject(w.User, &u)
	}
	src := events.SessionSource{
		Platform: platform,
		ChatID:   chatID,
		UserID:   scalar(u.ID),
		ScopeID:  in.guildID,
		GuildID:  in.guildID,
		Profile:  profile,
	}
	switch {
	case in.guildID == "":
		src.ChatType = events.ChatDM
	case isThreadChannel(scalar(ch.Type)):
		src.ChatType = events.ChatThread
		src.ThreadID = chatID
		src.ParentChatID = scalar(ch.ParentID)
	default:
		src.ChatType = events.ChatGroup
	}
	in.source = src
	return in, true
}

// sanitizeInteraction returns body without its token key(s). A body without
// one is forwarded byte for byte.
func sanitizeInteraction(body []byte, hasToken bool) ([]byte, error) {
	if !hasToken {
		return body, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, err
	}
	for k := range obj {
		if strings.EqualFold(k, "token") {
			delete(obj, k)
		}
	}
	return json.Marshal(obj)
}

// isThreadChannel reports Discord's thread channel types (announcement,
// public and private threads).
func isThreadChannel(t string) bool { return t == "10" || t == "11" || t == "12" }

// scalar returns a JSON string's value or a JSON number's text; anything
// else is "".
func scalar(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch c := raw[0]; {
	case c == '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case c == '-' || c >= '0' && c <= '9':
		var n json.Number
		if json.Unmarshal(raw, &n) == nil {
			return n.String()
		}
	}
	return ""
}

// decodeObject decodes raw into v when raw is a JSON object.
func decodeObject(raw json.RawMessage, v any) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return false
	}
	return json.Unmarshal(raw, v) == nil
}

// object decodes a JSON object into its raw members; anything else is nil.
func object(raw json.RawMessage) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	if !decodeObject(raw, &m) {
		return nil
	}
	return m
}
