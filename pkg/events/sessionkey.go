package events

import "strings"

// SessionKeyOptions tunes per-user isolation in SessionKey. The zero value
// is the connector's default: isolate users in groups, not inside threads.
type SessionKeyOptions struct {
	// SharedGroups turns per-user isolation in group chats off.
	SharedGroups bool
	// IsolateThreadUsers turns per-user isolation inside threads on.
	IsolateThreadUsers bool
}

// SessionKey builds the conversation key the connector uses, character for
// character (contract §4):
//
//	agent:<ns>:<platform>:dm:<chat_id>[:<thread_id>]
//	agent:<ns>:<platform>:<chat_type>:<chat_id>[:<thread_id>][:<user>]
//
// where ns is "main", or the source's profile ("main" itself written
// "main~"), and user is user_id_alt or user_id when per-user isolation applies.
func SessionKey(src SessionSource, opt SessionKeyOptions) string {
	ns := "main"
	switch src.Profile {
	case "":
	case "main":
		ns = "main~"
	default:
		ns = src.Profile
	}
	platform := src.Platform
	if platform == "" {
		platform = PlatformRelay
	}
	chatType := src.ChatType
	if chatType == "" {
		chatType = ChatDM
	}
	var b strings.Builder
	b.Grow(len(ns) + len(platform) + len(src.ChatID) + len(src.ThreadID) + len(src.UserID) + 24)
	b.WriteString("agent:")
	b.WriteString(ns)
	b.WriteByte(':')
	b.WriteString(platform)
	b.WriteByte(':')
	b.WriteString(chatType)
	b.WriteByte(':')
	b.WriteString(src.ChatID)
	if src.ThreadID != "" {
		b.WriteByte(':')
		b.WriteString(src.ThreadID)
	}
	if chatType == ChatDM {
		return b.String()
	}
	isolate := !opt.SharedGroups
	if src.ThreadID != "" {
		isolate = opt.IsolateThreadUsers
	}
	user := src.UserIDAlt
	if user == "" {
		user = src.UserID
	}
	if isolate && user != "" {
		b.WriteByte(':')
		b.WriteString(user)
	}
	return b.String()
}
