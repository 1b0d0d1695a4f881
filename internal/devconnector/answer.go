package devconnector

import (
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/relaybus/relaybus/pkg/events"
)

// Error texts of the default answers.
const (
	ErrTextNoToken       = "no interaction token for session"
	ErrTextTokenExpired  = "interaction token expired"
	ErrTextEgressDecline = "egress declined: target not routed to an onboarded tenant"
)

func failure(msg string) map[string]any { return map[string]any{"success": false, "error": msg} }

// answerLocked computes the default result of an action, as the hosted
// connector would answer it. s.mu must be held.
func (s *Server) answerLocked(a *events.Action, platform string, now time.Time) map[string]any {
	if !events.KnownOp(a.Op) || a.Op == events.OpInterrupt {
		return failure("unsupported op " + a.Op)
	}
	if a.Op == events.OpFollowUp && a.Kind == "" {
		a.Kind = events.FollowUpKindDiscord
	}
	if err := a.Validate(); err != nil {
		var ae *events.ActionError
		if errors.As(err, &ae) {
			return failure(ae.Detail)
		}
		return failure(err.Error())
	}
	if s.declinedLocked(a, platform) {
		return map[string]any{"success": false, "code": events.CodeEgressDeclined, "error": ErrTextEgressDecline}
	}
	switch a.Op {
	case events.OpSend:
		return map[string]any{"success": true, "message_id": s.newMessageID()}
	case events.OpEdit:
		return map[string]any{"success": true, "message_id": a.MessageID}
	case events.OpGetChatInfo:
		return map[string]any{"success": true, "chat_info": map[string]any{"name": "chat-" + a.ChatID, "type": "group"}}
	case events.OpFollowUp:
		if a.Kind != events.FollowUpKindDiscord {
			return failure("unsupported follow_up kind " + a.Kind)
		}
		_, found, expired := s.vault.lookup(a.SessionKey, metaString(a.Metadata, "interaction_id"), now)
		switch {
		case !found:
			return failure(ErrTextNoToken)
		case expired:
			return failure(ErrTextTokenExpired)
		}
		return map[string]any{"success": true, "message_id": s.newMessageID()}
	default: // typing, delete, react
		return map[string]any{"success": true}
	}
}

// declinedLocked is the egress guard: a chat-addressed action for a known
// Discord guild chat needs a scope (metadata.scope_id or guild_id) or an
// author (metadata.user_id) to be routed to a tenant. An envelope without a
// platform is treated as Discord (the connector's primary identity); chats
// only become known guild chats through Discord traffic, so other platforms
// are not affected.
func (s *Server) declinedLocked(a *events.Action, platform string) bool {
	switch a.Op {
	case events.OpSend, events.OpEdit, events.OpTyping, events.OpDelete, events.OpReact:
	default:
		return false
	}
	if platform != "" && platform != "discord" {
		return false
	}
	if _, guild := s.guilds[a.ChatID]; !guild {
		return false
	}
	return metaString(a.Metadata, "scope_id") == "" && metaString(a.Metadata, "guild_id") == "" && metaString(a.Metadata, "user_id") == ""
}

// learnGuildChatLocked remembers that chatID is a Discord guild chat. The
// set is bounded by VaultLimit (oldest forgotten first).
func (s *Server) learnGuildChatLocked(chatID, guildID string) {
	if chatID == "" || guildID == "" {
		return
	}
	if _, ok := s.guilds[chatID]; !ok {
		if len(s.guildQ)-s.guildHead >= s.cfg.VaultLimit {
			delete(s.guilds, s.guildQ[s.guildHead])
			s.guildQ[s.guildHead] = ""
			s.guildHead++
			if s.guildHead > len(s.guildQ)/2 {
				s.guildQ = append(s.guildQ[:0:0], s.guildQ[s.guildHead:]...)
				s.guildHead = 0
			}
		}
		s.guildQ = append(s.guildQ, chatID)
	}
	s.guilds[chatID] = guildID
}

func (s *Server) newMessageID() string { return "m-" + strconv.FormatUint(s.msgSeq.Add(1), 10) }

// metaString returns metadata[key] as a string when it is a non-empty string
// or a number.
func metaString(m map[string]any, key string) string {
	switch v := m[key].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case json.Number:
		return v.String()
	}
	return ""
}
