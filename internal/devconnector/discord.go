package devconnector

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/wire/jsonscan"
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

// parseInteraction reads a Discord interaction body. It fails only when the
// body is not a JSON object; ids may be strings or numbers, and keys of the
// wrong shape read as absent.
func parseInteraction(body []byte, platform, profile string) (interaction, bool) {
	t := bytes.TrimSpace(body)
	if len(t) == 0 || t[0] != '{' {
		return interaction{}, false
	}
	var in interaction
	var channel, member, user []byte
	var channelID, typ string
	valid := jsonscan.Members(t, func(key, val []byte, _, _ int) {
		switch {
		case keyIs(key, "id"):
			in.id = scalar(val)
		case keyIs(key, "application_id"):
			in.applicationID = scalar(val)
		case keyIs(key, "type"):
			typ = scalar(val)
		case keyIs(key, "guild_id"):
			in.guildID = scalar(val)
		case keyIs(key, "channel_id"):
			channelID = scalar(val)
		case keyIs(key, "channel"):
			channel = val
		case keyIs(key, "member"):
			member = val
		case keyIs(key, "user"):
			user = val
		case jsonscan.KeyIs(key, "token", true):
			in.hasToken = true
			if tok := scalar(val); tok != "" && val[0] == '"' {
				in.token = tok
			}
		}
	})
	if !valid {
		return interaction{}, false
	}
	in.typ, _ = strconv.Atoi(typ)

	var chID, chType, chParent string
	jsonscan.Members(channel, func(key, val []byte, _, _ int) {
		switch {
		case keyIs(key, "id"):
			chID = scalar(val)
		case keyIs(key, "type"):
			chType = scalar(val)
		case keyIs(key, "parent_id"):
			chParent = scalar(val)
		}
	})
	if channelID == "" {
		channelID = chID
	}
	var memberUser []byte
	jsonscan.Members(member, func(key, val []byte, _, _ int) {
		if keyIs(key, "user") {
			memberUser = val
		}
	})
	// member.user when present, else the top-level user.
	var userID string
	found := jsonscan.Members(memberUser, func(key, val []byte, _, _ int) {
		if keyIs(key, "id") {
			userID = scalar(val)
		}
	})
	if !found {
		jsonscan.Members(user, func(key, val []byte, _, _ int) {
			if keyIs(key, "id") {
				userID = scalar(val)
			}
		})
	}
	src := events.SessionSource{
		Platform: platform,
		ChatID:   channelID,
		UserID:   userID,
		ScopeID:  in.guildID,
		GuildID:  in.guildID,
		Profile:  profile,
	}
	switch {
	case in.guildID == "":
		src.ChatType = events.ChatDM
	case isThreadChannel(chType):
		src.ChatType = events.ChatThread
		src.ThreadID = channelID
		src.ParentChatID = chParent
	default:
		src.ChatType = events.ChatGroup
	}
	in.source = src
	return in, true
}

// sanitizeInteraction returns body without its token member(s) (key
// compared as encoding/json compares it, case-insensitively): the same
// stripping as the converter's discord.StripToken (jsonscan.WithoutKey).
// Every other byte is kept.
func sanitizeInteraction(body []byte, hasToken bool) []byte {
	if !hasToken {
		return body
	}
	out, _ := jsonscan.WithoutKey(bytes.TrimSpace(body), "token")
	return out
}

// isThreadChannel reports Discord's thread channel types (announcement,
// public and private threads).
func isThreadChannel(t string) bool { return t == "10" || t == "11" || t == "12" }

// object decodes a JSON object into its raw members; anything else is nil.
func object(raw json.RawMessage) map[string]json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m
}
