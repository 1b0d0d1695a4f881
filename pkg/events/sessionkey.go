package events

import "strings"

// SessionKeyOptions tunes per-user isolation in SessionKey. The zero value
// is the connector's default: isolate users in groups, not inside threads.
type SessionKeyOptions struct {
	// SharedGroups turns per-user isolation in group chats off (the
	// reference's group_sessions_per_user = false). It applies inside
	// threads too: a shared group never isolates.
	SharedGroups bool
	// IsolateThreadUsers turns per-user isolation inside threads on (the
	// reference's thread_sessions_per_user = true).
	IsolateThreadUsers bool
}

// SessionKey builds the conversation key the connector uses, character for
// character (contract §4, the reference's build_session_key):
//
//	agent:<ns>:<platform>:dm:<chat_id>[:<thread_id>]
//	agent:<ns>:<platform>:<chat_type>:<chat_id>[:<thread_id>][:<user>]
//
// ns is "main" for no profile (or the profile "default"), "main~" for a
// profile literally named "main", and the profile's name otherwise. user is
// user_id_alt, else user_id; it is appended when per-user isolation applies:
// in groups by default, inside threads only with IsolateThreadUsers. An empty
// chat_id or thread_id is left out rather than written as an empty segment,
// and a DM without a chat_id is keyed on its user (before the thread), so
// such DMs never collapse into one shared session.
func SessionKey(src SessionSource, opt SessionKeyOptions) string {
	ns := "main"
	switch src.Profile {
	case "", "default":
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
	user := src.UserIDAlt
	if user == "" {
		user = src.UserID
	}
	var isolate bool
	if chatType == ChatDM {
		isolate = src.ChatID == ""
	} else {
		isolate = !opt.SharedGroups && (src.ThreadID == "" || opt.IsolateThreadUsers)
	}
	if !isolate {
		user = ""
	}

	var b strings.Builder
	b.Grow(len("agent:") + len(ns) + len(platform) + len(chatType) + len(src.ChatID) + len(src.ThreadID) + len(user) + 5)
	b.WriteString("agent:")
	b.WriteString(ns)
	b.WriteByte(':')
	b.WriteString(platform)
	b.WriteByte(':')
	b.WriteString(chatType)
	part := func(s string) {
		if s != "" {
			b.WriteByte(':')
			b.WriteString(s)
		}
	}
	part(src.ChatID)
	if chatType == ChatDM {
		// DMs put the user before the thread; groups and threads after it.
		part(user)
		part(src.ThreadID)
	} else {
		part(src.ThreadID)
		part(user)
	}
	return b.String()
}

// SessionChat reads the platform and chat id back out of a session key
// built by SessionKey ("agent:<ns>:<platform>:<chat_type>:<chat_id>…").
// The chat id is a best guess for keys whose chat id was left out (a DM
// keyed on its user); ok is false for anything that is not a session key.
func SessionChat(key string) (platform, chatID string, ok bool) {
	parts := strings.SplitN(key, ":", 6)
	if len(parts) < 3 || parts[0] != "agent" || parts[2] == "" {
		return "", "", false
	}
	if len(parts) >= 5 {
		chatID = parts[4]
	}
	return parts[2], chatID, true
}
