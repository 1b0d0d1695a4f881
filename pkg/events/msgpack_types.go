package events

import "fmt"

// The MessagePack codec of each contract type (machinery in msgpack.go).
// Each type lists its keys in field order (the order of its map entries
// and of an array-encoded value), appends itself field by field and
// decodes itself key by key. A field added to a struct must be added to
// all three: TestMsgpackCoversEveryField fails until it is.

var (
	messageEventKeys = []string{"text", "message_type", "message_id", "reply_to_message_id", "media_urls", "media",
		"source", "session_key", "timestamp", "prompt_response", "interaction", "forward"}
	mediaKeys         = []string{"url", "kind", "mime", "size", "filename", "caption"}
	sessionSourceKeys = []string{"platform", "chat_id", "chat_type", "chat_name", "user_id", "user_name", "thread_id",
		"chat_topic", "user_id_alt", "chat_id_alt", "scope_id", "guild_id", "parent_chat_id", "message_id", "profile", "is_bot"}
	promptResponseKeys = []string{"prompt_id", "option_id", "prompt_message_id"}
	forwardInfoKeys    = []string{"platform", "bot_id", "method", "path"}
	interactionKeys    = []string{"id", "application_id", "kind", "context", "locale", "guild_locale",
		"authorizing_integration_owners", "app_permissions", "command", "component", "modal"}
	commandKeys       = []string{"id", "name", "type", "path", "options", "target"}
	commandOptionKeys = []string{"name", "type", "value", "display"}
	commandTargetKeys = []string{"kind", "id", "display", "content", "author_id"}
	componentKeys     = []string{"custom_id", "type", "label", "values", "value_labels"}
	modalKeys         = []string{"custom_id", "fields"}
	modalFieldKeys    = []string{"custom_id", "type", "value", "values"}
	interruptKeys     = []string{"session_key", "chat_id", "platform"}
	scopeKeys         = []string{"scope_id", "user_id", "platform", "bot_id", "chat_type", "profile", "updated_at"}
	actionKeys        = []string{"op", "chat_id", "content", "reply_to", "message_id", "session_key", "kind", "emoji",
		"remove", "reason", "metadata", "platform", "bot_id"}
	sendResultKeys = []string{"success", "message_id", "error", "code", "ambiguous", "continuation_message_ids",
		"thread_id", "chat_info"}
	chatInfoKeys = []string{"name", "type"}
)

func (e *MessageEvent) appendMsgpack(b []byte) []byte {
	m := beginMap(b)
	m.str("text", e.Text)
	m.str("message_type", e.MessageType)
	m.strOmit("message_id", e.MessageID)
	m.strOmit("reply_to_message_id", e.ReplyToMessageID)
	m.stringsOmit("media_urls", e.MediaURLs)
	if len(e.Media) > 0 {
		m.key("media")
		m.b = appendStructs(m.b, e.Media, (*Media).appendMsgpack)
	}
	m.key("source")
	m.b = e.Source.appendMsgpack(m.b)
	m.str("session_key", e.SessionKey)
	m.strOmit("timestamp", e.Timestamp)
	if e.PromptResponse != nil {
		m.key("prompt_response")
		m.b = e.PromptResponse.appendMsgpack(m.b)
	}
	if e.Interaction != nil {
		m.key("interaction")
		m.b = e.Interaction.appendMsgpack(m.b)
	}
	if e.Forward != nil {
		m.key("forward")
		m.b = e.Forward.appendMsgpack(m.b)
	}
	return m.end()
}

func (e *MessageEvent) decodeMsgpack(d *decoder) error {
	r, err := readStruct(d, messageEventKeys)
	if err != nil {
		return err
	}
	if r.zero {
		*e = MessageEvent{}
		return nil
	}
	for r.next() {
		switch r.name() {
		case "text":
			e.Text, err = d.readString()
		case "message_type":
			e.MessageType, err = d.readString()
		case "message_id":
			e.MessageID, err = d.readString()
		case "reply_to_message_id":
			e.ReplyToMessageID, err = d.readString()
		case "media_urls":
			err = decodeStrings(d, &e.MediaURLs)
		case "media":
			err = decodeStructs(d, &e.Media, (*Media).decodeMsgpack)
		case "source":
			err = e.Source.decodeMsgpack(d)
		case "session_key":
			e.SessionKey, err = d.readString()
		case "timestamp":
			e.Timestamp, err = d.readString()
		case "prompt_response":
			err = decodeOptional(d, &e.PromptResponse, (*PromptResponse).decodeMsgpack)
		case "interaction":
			err = decodeOptional(d, &e.Interaction, (*Interaction).decodeMsgpack)
		case "forward":
			err = decodeOptional(d, &e.Forward, (*ForwardInfo).decodeMsgpack)
		default:
			err = d.skip()
		}
		if err != nil {
			return r.fieldErr(err)
		}
	}
	return r.err
}

func (m *Media) appendMsgpack(b []byte) []byte {
	w := beginMap(b)
	w.str("url", m.URL)
	w.strOmit("kind", m.Kind)
	w.strOmit("mime", m.MIME)
	w.int64Omit("size", m.Size)
	w.strOmit("filename", m.Filename)
	w.strOmit("caption", m.Caption)
	return w.end()
}

func (m *Media) decodeMsgpack(d *decoder) error {
	r, err := readStruct(d, mediaKeys)
	if err != nil {
		return err
	}
	if r.zero {
		*m = Media{}
		return nil
	}
	for r.next() {
		switch r.name() {
		case "url":
			m.URL, err = d.readString()
		case "kind":
			m.Kind, err = d.readString()
		case "mime":
			m.MIME, err = d.readString()
		case "size":
			m.Size, err = d.readInt64()
		case "filename":
			m.Filename, err = d.readString()
		case "caption":
			m.Caption, err = d.readString()
		default:
			err = d.skip()
		}
		if err != nil {
			return r.fieldErr(err)
		}
	}
	return r.err
}

func (s *SessionSource) appendMsgpack(b []byte) []byte {
	m := beginMap(b)
	m.str("platform", s.Platform)
	m.str("chat_id", s.ChatID)
	m.str("chat_type", s.ChatType)
	m.strOmit("chat_name", s.ChatName)
	m.strOmit("user_id", s.UserID)
	m.strOmit("user_name", s.UserName)
	m.strOmit("thread_id", s.ThreadID)
	m.strOmit("chat_topic", s.ChatTopic)
	m.strOmit("user_id_alt", s.UserIDAlt)
	m.strOmit("chat_id_alt", s.ChatIDAlt)
	m.strOmit("scope_id", s.ScopeID)
	m.strOmit("guild_id", s.GuildID)
	m.strOmit("parent_chat_id", s.ParentChatID)
	m.strOmit("message_id", s.MessageID)
	m.strOmit("profile", s.Profile)
	m.boolOmit("is_bot", s.IsBot)
	return m.end()
}

func (s *SessionSource) decodeMsgpack(d *decoder) error {
	r, err := readStruct(d, sessionSourceKeys)
	if err != nil {
		return err
	}
	if r.zero {
		*s = SessionSource{}
		return nil
	}
	for r.next() {
		switch r.name() {
		case "platform":
			s.Platform, err = d.readString()
		case "chat_id":
			s.ChatID, err = d.readString()
		case "chat_type":
			s.ChatType, err = d.readString()
		case "chat_name":
			s.ChatName, err = d.readString()
		case "user_id":
			s.UserID, err = d.readString()
		case "user_name":
			s.UserName, err = d.readString()
		case "thread_id":
			s.ThreadID, err = d.readString()
		case "chat_topic":
			s.ChatTopic, err = d.readString()
		case "user_id_alt":
			s.UserIDAlt, err = d.readString()
		case "chat_id_alt":
			s.ChatIDAlt, err = d.readString()
		case "scope_id":
			s.ScopeID, err = d.readString()
		case "guild_id":
			s.GuildID, err = d.readString()
		case "parent_chat_id":
			s.ParentChatID, err = d.readString()
		case "message_id":
			s.MessageID, err = d.readString()
		case "profile":
			s.Profile, err = d.readString()
		case "is_bot":
			s.IsBot, err = d.readBool()
		default:
			err = d.skip()
		}
		if err != nil {
			return r.fieldErr(err)
		}
	}
	return r.err
}

func (p *PromptResponse) appendMsgpack(b []byte) []byte {
	m := beginMap(b)
	m.str("prompt_id", p.PromptID)
	m.str("option_id", p.OptionID)
	m.strOmit("prompt_message_id", p.PromptMessageID)
	return m.end()
}

func (p *PromptResponse) decodeMsgpack(d *decoder) error {
	r, err := readStruct(d, promptResponseKeys)
	if err != nil {
		return err
	}
	if r.zero {
		*p = PromptResponse{}
		return nil
	}
	for r.next() {
		switch r.name() {
		case "prompt_id":
			p.PromptID, err = d.readString()
		case "option_id":
			p.OptionID, err = d.readString()
		case "prompt_message_id":
			p.PromptMessageID, err = d.readString()
		default:
			err = d.skip()
		}
		if err != nil {
			return r.fieldErr(err)
		}
	}
	return r.err
}

func (f *ForwardInfo) appendMsgpack(b []byte) []byte {
	m := beginMap(b)
	m.str("platform", f.Platform)
	m.strOmit("bot_id", f.BotID)
	m.strOmit("method", f.Method)
	m.strOmit("path", f.Path)
	return m.end()
}

func (f *ForwardInfo) decodeMsgpack(d *decoder) error {
	r, err := readStruct(d, forwardInfoKeys)
	if err != nil {
		return err
	}
	if r.zero {
		*f = ForwardInfo{}
		return nil
	}
	for r.next() {
		switch r.name() {
		case "platform":
			f.Platform, err = d.readString()
		case "bot_id":
			f.BotID, err = d.readString()
		case "method":
			f.Method, err = d.readString()
		case "path":
			f.Path, err = d.readString()
		default:
			err = d.skip()
		}
		if err != nil {
			return r.fieldErr(err)
		}
	}
	return r.err
}

func (in *Interaction) appendMsgpack(b []byte) []byte {
	m := beginMap(b)
	m.str("id", in.ID)
	m.strOmit("application_id", in.ApplicationID)
	m.str("kind", in.Kind)
	m.strOmit("context", in.Context)
	m.strOmit("locale", in.Locale)
	m.strOmit("guild_locale", in.GuildLocale)
	if len(in.AuthorizingIntegrationOwners) > 0 {
		m.key("authorizing_integration_owners")
		m.b = appendStringMap(m.b, in.AuthorizingIntegrationOwners)
	}
	m.strOmit("app_permissions", in.AppPermissions)
	if in.Command != nil {
		m.key("command")
		m.b = in.Command.appendMsgpack(m.b)
	}
	if in.Component != nil {
		m.key("component")
		m.b = in.Component.appendMsgpack(m.b)
	}
	if in.Modal != nil {
		m.key("modal")
		m.b = in.Modal.appendMsgpack(m.b)
	}
	return m.end()
}

func (in *Interaction) decodeMsgpack(d *decoder) error {
	r, err := readStruct(d, interactionKeys)
	if err != nil {
		return err
	}
	if r.zero {
		*in = Interaction{}
		return nil
	}
	for r.next() {
		switch r.name() {
		case "id":
			in.ID, err = d.readString()
		case "application_id":
			in.ApplicationID, err = d.readString()
		case "kind":
			in.Kind, err = d.readString()
		case "context":
			in.Context, err = d.readString()
		case "locale":
			in.Locale, err = d.readString()
		case "guild_locale":
			in.GuildLocale, err = d.readString()
		case "authorizing_integration_owners":
			err = decodeStringMap(d, &in.AuthorizingIntegrationOwners)
		case "app_permissions":
			in.AppPermissions, err = d.readString()
		case "command":
			err = decodeOptional(d, &in.Command, (*Command).decodeMsgpack)
		case "component":
			err = decodeOptional(d, &in.Component, (*Component).decodeMsgpack)
		case "modal":
			err = decodeOptional(d, &in.Modal, (*Modal).decodeMsgpack)
		default:
			err = d.skip()
		}
		if err != nil {
			return r.fieldErr(err)
		}
	}
	return r.err
}

func (c *Command) appendMsgpack(b []byte) []byte {
	m := beginMap(b)
	m.strOmit("id", c.ID)
	m.str("name", c.Name)
	m.str("type", c.Type)
	m.strings("path", c.Path)
	if len(c.Options) > 0 {
		m.key("options")
		m.b = appendStructs(m.b, c.Options, (*CommandOption).appendMsgpack)
	}
	if c.Target != nil {
		m.key("target")
		m.b = c.Target.appendMsgpack(m.b)
	}
	return m.end()
}

func (c *Command) decodeMsgpack(d *decoder) error {
	r, err := readStruct(d, commandKeys)
	if err != nil {
		return err
	}
	if r.zero {
		*c = Command{}
		return nil
	}
	for r.next() {
		switch r.name() {
		case "id":
			c.ID, err = d.readString()
		case "name":
			c.Name, err = d.readString()
		case "type":
			c.Type, err = d.readString()
		case "path":
			err = decodeStrings(d, &c.Path)
		case "options":
			err = decodeStructs(d, &c.Options, (*CommandOption).decodeMsgpack)
		case "target":
			err = decodeOptional(d, &c.Target, (*CommandTarget).decodeMsgpack)
		default:
			err = d.skip()
		}
		if err != nil {
			return r.fieldErr(err)
		}
	}
	return r.err
}

func (o *CommandOption) appendMsgpack(b []byte) []byte {
	m := beginMap(b)
	m.str("name", o.Name)
	m.str("type", o.Type)
	m.str("value", o.Value)
	m.strOmit("display", o.Display)
	return m.end()
}

func (o *CommandOption) decodeMsgpack(d *decoder) error {
	r, err := readStruct(d, commandOptionKeys)
	if err != nil {
		return err
	}
	if r.zero {
		*o = CommandOption{}
		return nil
	}
	for r.next() {
		switch r.name() {
		case "name":
			o.Name, err = d.readString()
		case "type":
			o.Type, err = d.readString()
		case "value":
			o.Value, err = d.readString()
		case "display":
			o.Display, err = d.readString()
		default:
			err = d.skip()
		}
		if err != nil {
			return r.fieldErr(err)
		}
	}
	return r.err
}

func (t *CommandTarget) appendMsgpack(b []byte) []byte {
	m := beginMap(b)
	m.str("kind", t.Kind)
	m.str("id", t.ID)
	m.strOmit("display", t.Display)
	m.strOmit("content", t.Content)
	m.strOmit("author_id", t.AuthorID)
	return m.end()
}

func (t *CommandTarget) decodeMsgpack(d *decoder) error {
	r, err := readStruct(d, commandTargetKeys)
	if err != nil {
		return err
	}
	if r.zero {
		*t = CommandTarget{}
		return nil
	}
	for r.next() {
		switch r.name() {
		case "kind":
			t.Kind, err = d.readString()
		case "id":
			t.ID, err = d.readString()
		case "display":
			t.Display, err = d.readString()
		case "content":
			t.Content, err = d.readString()
		case "author_id":
			t.AuthorID, err = d.readString()
		default:
			err = d.skip()
		}
		if err != nil {
			return r.fieldErr(err)
		}
	}
	return r.err
}

func (c *Component) appendMsgpack(b []byte) []byte {
	m := beginMap(b)
	m.str("custom_id", c.CustomID)
	m.str("type", c.Type)
	m.strOmit("label", c.Label)
	m.stringsOmit("values", c.Values)
	m.stringsOmit("value_labels", c.ValueLabels)
	return m.end()
}

func (c *Component) decodeMsgpack(d *decoder) error {
	r, err := readStruct(d, componentKeys)
	if err != nil {
		return err
	}
	if r.zero {
		*c = Component{}
		return nil
	}
	for r.next() {
		switch r.name() {
		case "custom_id":
			c.CustomID, err = d.readString()
		case "type":
			c.Type, err = d.readString()
		case "label":
			c.Label, err = d.readString()
		case "values":
			err = decodeStrings(d, &c.Values)
		case "value_labels":
			err = decodeStrings(d, &c.ValueLabels)
		default:
			err = d.skip()
		}
		if err != nil {
			return r.fieldErr(err)
		}
	}
	return r.err
}

func (md *Modal) appendMsgpack(b []byte) []byte {
	m := beginMap(b)
	m.str("custom_id", md.CustomID)
	if len(md.Fields) > 0 {
		m.key("fields")
		m.b = appendStructs(m.b, md.Fields, (*ModalField).appendMsgpack)
	}
	return m.end()
}

func (md *Modal) decodeMsgpack(d *decoder) error {
	r, err := readStruct(d, modalKeys)
	if err != nil {
		return err
	}
	if r.zero {
		*md = Modal{}
		return nil
	}
	for r.next() {
		switch r.name() {
		case "custom_id":
			md.CustomID, err = d.readString()
		case "fields":
			err = decodeStructs(d, &md.Fields, (*ModalField).decodeMsgpack)
		default:
			err = d.skip()
		}
		if err != nil {
			return r.fieldErr(err)
		}
	}
	return r.err
}

func (f *ModalField) appendMsgpack(b []byte) []byte {
	m := beginMap(b)
	m.str("custom_id", f.CustomID)
	m.str("type", f.Type)
	m.str("value", f.Value)
	m.stringsOmit("values", f.Values)
	return m.end()
}

func (f *ModalField) decodeMsgpack(d *decoder) error {
	r, err := readStruct(d, modalFieldKeys)
	if err != nil {
		return err
	}
	if r.zero {
		*f = ModalField{}
		return nil
	}
	for r.next() {
		switch r.name() {
		case "custom_id":
			f.CustomID, err = d.readString()
		case "type":
			f.Type, err = d.readString()
		case "value":
			f.Value, err = d.readString()
		case "values":
			err = decodeStrings(d, &f.Values)
		default:
			err = d.skip()
		}
		if err != nil {
			return r.fieldErr(err)
		}
	}
	return r.err
}

func (it *Interrupt) appendMsgpack(b []byte) []byte {
	m := beginMap(b)
	m.str("session_key", it.SessionKey)
	m.str("chat_id", it.ChatID)
	m.strOmit("platform", it.Platform)
	return m.end()
}

func (it *Interrupt) decodeMsgpack(d *decoder) error {
	r, err := readStruct(d, interruptKeys)
	if err != nil {
		return err
	}
	if r.zero {
		*it = Interrupt{}
		return nil
	}
	for r.next() {
		switch r.name() {
		case "session_key":
			it.SessionKey, err = d.readString()
		case "chat_id":
			it.ChatID, err = d.readString()
		case "platform":
			it.Platform, err = d.readString()
		default:
			err = d.skip()
		}
		if err != nil {
			return r.fieldErr(err)
		}
	}
	return r.err
}

func (s *Scope) appendMsgpack(b []byte) []byte {
	m := beginMap(b)
	m.strOmit("scope_id", s.ScopeID)
	m.strOmit("user_id", s.UserID)
	m.str("platform", s.Platform)
	m.strOmit("bot_id", s.BotID)
	m.strOmit("chat_type", s.ChatType)
	m.strOmit("profile", s.Profile)
	m.strOmit("updated_at", s.UpdatedAt)
	return m.end()
}

func (s *Scope) decodeMsgpack(d *decoder) error {
	r, err := readStruct(d, scopeKeys)
	if err != nil {
		return err
	}
	if r.zero {
		*s = Scope{}
		return nil
	}
	for r.next() {
		switch r.name() {
		case "scope_id":
			s.ScopeID, err = d.readString()
		case "user_id":
			s.UserID, err = d.readString()
		case "platform":
			s.Platform, err = d.readString()
		case "bot_id":
			s.BotID, err = d.readString()
		case "chat_type":
			s.ChatType, err = d.readString()
		case "profile":
			s.Profile, err = d.readString()
		case "updated_at":
			s.UpdatedAt, err = d.readString()
		default:
			err = d.skip()
		}
		if err != nil {
			return r.fieldErr(err)
		}
	}
	return r.err
}

func (a *Action) appendMsgpack(b []byte) ([]byte, error) {
	m := beginMap(b)
	m.str("op", a.Op)
	m.strOmit("chat_id", a.ChatID)
	m.strOmit("content", a.Content)
	if a.ReplyTo != nil {
		m.str("reply_to", *a.ReplyTo)
	}
	m.strOmit("message_id", a.MessageID)
	m.strOmit("session_key", a.SessionKey)
	m.strOmit("kind", a.Kind)
	m.strOmit("emoji", a.Emoji)
	m.boolOmit("remove", a.Remove)
	if a.Reason != nil {
		m.str("reason", *a.Reason)
	}
	if len(a.Metadata) > 0 {
		m.key("metadata")
		var err error
		if m.b, err = appendAnyMap(m.b, a.Metadata); err != nil {
			return b, fmt.Errorf("encoding Action metadata: %w", err)
		}
	}
	m.strOmit("platform", a.Platform)
	m.strOmit("bot_id", a.BotID)
	return m.end(), nil
}

func (a *Action) decodeMsgpack(d *decoder) error {
	r, err := readStruct(d, actionKeys)
	if err != nil {
		return err
	}
	if r.zero {
		*a = Action{}
		return nil
	}
	for r.next() {
		switch r.name() {
		case "op":
			a.Op, err = d.readString()
		case "chat_id":
			a.ChatID, err = d.readString()
		case "content":
			a.Content, err = d.readString()
		case "reply_to":
			err = decodeStringPtr(d, &a.ReplyTo)
		case "message_id":
			a.MessageID, err = d.readString()
		case "session_key":
			a.SessionKey, err = d.readString()
		case "kind":
			a.Kind, err = d.readString()
		case "emoji":
			a.Emoji, err = d.readString()
		case "remove":
			a.Remove, err = d.readBool()
		case "reason":
			err = decodeStringPtr(d, &a.Reason)
		case "metadata":
			a.Metadata, err = d.readAnyMap()
		case "platform":
			a.Platform, err = d.readString()
		case "bot_id":
			a.BotID, err = d.readString()
		default:
			err = d.skip()
		}
		if err != nil {
			return r.fieldErr(err)
		}
	}
	return r.err
}

func (s *SendResult) appendMsgpack(b []byte) []byte {
	m := beginMap(b)
	m.boolean("success", s.Success)
	m.strOmit("message_id", s.MessageID)
	m.strOmit("error", s.Error)
	m.strOmit("code", s.Code)
	m.boolOmit("ambiguous", s.Ambiguous)
	m.stringsOmit("continuation_message_ids", s.ContinuationMessageIDs)
	m.strOmit("thread_id", s.ThreadID)
	if s.ChatInfo != nil {
		m.key("chat_info")
		m.b = s.ChatInfo.appendMsgpack(m.b)
	}
	return m.end()
}

func (s *SendResult) decodeMsgpack(d *decoder) error {
	r, err := readStruct(d, sendResultKeys)
	if err != nil {
		return err
	}
	if r.zero {
		*s = SendResult{}
		return nil
	}
	for r.next() {
		switch r.name() {
		case "success":
			s.Success, err = d.readBool()
		case "message_id":
			s.MessageID, err = d.readString()
		case "error":
			s.Error, err = d.readString()
		case "code":
			s.Code, err = d.readString()
		case "ambiguous":
			s.Ambiguous, err = d.readBool()
		case "continuation_message_ids":
			err = decodeStrings(d, &s.ContinuationMessageIDs)
		case "thread_id":
			s.ThreadID, err = d.readString()
		case "chat_info":
			err = decodeOptional(d, &s.ChatInfo, (*ChatInfo).decodeMsgpack)
		default:
			err = d.skip()
		}
		if err != nil {
			return r.fieldErr(err)
		}
	}
	return r.err
}

func (c *ChatInfo) appendMsgpack(b []byte) []byte {
	m := beginMap(b)
	m.str("name", c.Name)
	m.str("type", c.Type)
	return m.end()
}

func (c *ChatInfo) decodeMsgpack(d *decoder) error {
	r, err := readStruct(d, chatInfoKeys)
	if err != nil {
		return err
	}
	if r.zero {
		*c = ChatInfo{}
		return nil
	}
	for r.next() {
		switch r.name() {
		case "name":
			c.Name, err = d.readString()
		case "type":
			c.Type, err = d.readString()
		default:
			err = d.skip()
		}
		if err != nil {
			return r.fieldErr(err)
		}
	}
	return r.err
}
