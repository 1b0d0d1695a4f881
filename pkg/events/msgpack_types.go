package events

// The MessagePack codec of each contract type (the machinery in
// msgpack.go, the field kinds in msgpack_fields.go): one table per struct
// that lists its fields in field order, each with its msgpack tag and an
// accessor. The table is all a type states; encoding appends the fields
// in that order, and decoding reads keys (or an array of every field in
// that order) into them. A field added to a struct must be added to its
// table: TestMsgpackKeys and TestMsgpackCoversEveryField fail until it is.

var messageEventCodec = newCodec("MessageEvent",
	str("text", func(e *MessageEvent) *string { return &e.Text }),
	str("message_type", func(e *MessageEvent) *string { return &e.MessageType }),
	str("message_id,omitempty", func(e *MessageEvent) *string { return &e.MessageID }),
	str("reply_to_message_id,omitempty", func(e *MessageEvent) *string { return &e.ReplyToMessageID }),
	strs("media_urls,omitempty", func(e *MessageEvent) *[]string { return &e.MediaURLs }),
	structs("media,omitempty", mediaCodec, func(e *MessageEvent) *[]Media { return &e.Media }),
	object("source", sessionSourceCodec, func(e *MessageEvent) *SessionSource { return &e.Source }),
	str("session_key", func(e *MessageEvent) *string { return &e.SessionKey }),
	str("timestamp,omitempty", func(e *MessageEvent) *string { return &e.Timestamp }),
	optional("prompt_response,omitempty", promptResponseCodec, func(e *MessageEvent) **PromptResponse { return &e.PromptResponse }),
	optional("interaction,omitempty", interactionCodec, func(e *MessageEvent) **Interaction { return &e.Interaction }),
	optional("forward,omitempty", forwardInfoCodec, func(e *MessageEvent) **ForwardInfo { return &e.Forward }),
)

var mediaCodec = newCodec("Media",
	str("url", func(m *Media) *string { return &m.URL }),
	str("kind,omitempty", func(m *Media) *string { return &m.Kind }),
	str("mime,omitempty", func(m *Media) *string { return &m.MIME }),
	int64Field("size,omitempty", func(m *Media) *int64 { return &m.Size }),
	str("filename,omitempty", func(m *Media) *string { return &m.Filename }),
	str("caption,omitempty", func(m *Media) *string { return &m.Caption }),
)

var sessionSourceCodec = newCodec("SessionSource",
	str("platform", func(s *SessionSource) *string { return &s.Platform }),
	str("chat_id", func(s *SessionSource) *string { return &s.ChatID }),
	str("chat_type", func(s *SessionSource) *string { return &s.ChatType }),
	str("chat_name,omitempty", func(s *SessionSource) *string { return &s.ChatName }),
	str("user_id,omitempty", func(s *SessionSource) *string { return &s.UserID }),
	str("user_name,omitempty", func(s *SessionSource) *string { return &s.UserName }),
	str("thread_id,omitempty", func(s *SessionSource) *string { return &s.ThreadID }),
	str("chat_topic,omitempty", func(s *SessionSource) *string { return &s.ChatTopic }),
	str("user_id_alt,omitempty", func(s *SessionSource) *string { return &s.UserIDAlt }),
	str("chat_id_alt,omitempty", func(s *SessionSource) *string { return &s.ChatIDAlt }),
	str("scope_id,omitempty", func(s *SessionSource) *string { return &s.ScopeID }),
	str("guild_id,omitempty", func(s *SessionSource) *string { return &s.GuildID }),
	str("parent_chat_id,omitempty", func(s *SessionSource) *string { return &s.ParentChatID }),
	str("message_id,omitempty", func(s *SessionSource) *string { return &s.MessageID }),
	str("profile,omitempty", func(s *SessionSource) *string { return &s.Profile }),
	boolean("is_bot,omitempty", func(s *SessionSource) *bool { return &s.IsBot }),
)

var promptResponseCodec = newCodec("PromptResponse",
	str("prompt_id", func(p *PromptResponse) *string { return &p.PromptID }),
	str("option_id", func(p *PromptResponse) *string { return &p.OptionID }),
	str("prompt_message_id,omitempty", func(p *PromptResponse) *string { return &p.PromptMessageID }),
)

var forwardInfoCodec = newCodec("ForwardInfo",
	str("platform", func(f *ForwardInfo) *string { return &f.Platform }),
	str("bot_id,omitempty", func(f *ForwardInfo) *string { return &f.BotID }),
	str("method,omitempty", func(f *ForwardInfo) *string { return &f.Method }),
	str("path,omitempty", func(f *ForwardInfo) *string { return &f.Path }),
)

var interactionCodec = newCodec("Interaction",
	str("id", func(in *Interaction) *string { return &in.ID }),
	str("application_id,omitempty", func(in *Interaction) *string { return &in.ApplicationID }),
	str("kind", func(in *Interaction) *string { return &in.Kind }),
	str("context,omitempty", func(in *Interaction) *string { return &in.Context }),
	str("locale,omitempty", func(in *Interaction) *string { return &in.Locale }),
	str("guild_locale,omitempty", func(in *Interaction) *string { return &in.GuildLocale }),
	stringMap("authorizing_integration_owners,omitempty", func(in *Interaction) *map[string]string { return &in.AuthorizingIntegrationOwners }),
	str("app_permissions,omitempty", func(in *Interaction) *string { return &in.AppPermissions }),
	optional("command,omitempty", commandCodec, func(in *Interaction) **Command { return &in.Command }),
	optional("component,omitempty", componentCodec, func(in *Interaction) **Component { return &in.Component }),
	optional("modal,omitempty", modalCodec, func(in *Interaction) **Modal { return &in.Modal }),
)

var commandCodec = newCodec("Command",
	str("id,omitempty", func(c *Command) *string { return &c.ID }),
	str("name", func(c *Command) *string { return &c.Name }),
	str("type", func(c *Command) *string { return &c.Type }),
	strs("path", func(c *Command) *[]string { return &c.Path }),
	structs("options,omitempty", commandOptionCodec, func(c *Command) *[]CommandOption { return &c.Options }),
	optional("target,omitempty", commandTargetCodec, func(c *Command) **CommandTarget { return &c.Target }),
)

var commandOptionCodec = newCodec("CommandOption",
	str("name", func(o *CommandOption) *string { return &o.Name }),
	str("type", func(o *CommandOption) *string { return &o.Type }),
	str("value", func(o *CommandOption) *string { return &o.Value }),
	str("display,omitempty", func(o *CommandOption) *string { return &o.Display }),
)

var commandTargetCodec = newCodec("CommandTarget",
	str("kind", func(t *CommandTarget) *string { return &t.Kind }),
	str("id", func(t *CommandTarget) *string { return &t.ID }),
	str("display,omitempty", func(t *CommandTarget) *string { return &t.Display }),
	str("content,omitempty", func(t *CommandTarget) *string { return &t.Content }),
	str("author_id,omitempty", func(t *CommandTarget) *string { return &t.AuthorID }),
)

var componentCodec = newCodec("Component",
	str("custom_id", func(c *Component) *string { return &c.CustomID }),
	str("type", func(c *Component) *string { return &c.Type }),
	str("label,omitempty", func(c *Component) *string { return &c.Label }),
	strs("values,omitempty", func(c *Component) *[]string { return &c.Values }),
	strs("value_labels,omitempty", func(c *Component) *[]string { return &c.ValueLabels }),
)

var modalCodec = newCodec("Modal",
	str("custom_id", func(m *Modal) *string { return &m.CustomID }),
	structs("fields,omitempty", modalFieldCodec, func(m *Modal) *[]ModalField { return &m.Fields }),
)

var modalFieldCodec = newCodec("ModalField",
	str("custom_id", func(f *ModalField) *string { return &f.CustomID }),
	str("type", func(f *ModalField) *string { return &f.Type }),
	str("value", func(f *ModalField) *string { return &f.Value }),
	strs("values,omitempty", func(f *ModalField) *[]string { return &f.Values }),
)

var interruptCodec = newCodec("Interrupt",
	str("session_key", func(it *Interrupt) *string { return &it.SessionKey }),
	str("chat_id", func(it *Interrupt) *string { return &it.ChatID }),
	str("platform,omitempty", func(it *Interrupt) *string { return &it.Platform }),
)

var scopeCodec = newCodec("Scope",
	str("scope_id,omitempty", func(s *Scope) *string { return &s.ScopeID }),
	str("user_id,omitempty", func(s *Scope) *string { return &s.UserID }),
	str("platform", func(s *Scope) *string { return &s.Platform }),
	str("bot_id,omitempty", func(s *Scope) *string { return &s.BotID }),
	str("chat_type,omitempty", func(s *Scope) *string { return &s.ChatType }),
	str("profile,omitempty", func(s *Scope) *string { return &s.Profile }),
	str("updated_at,omitempty", func(s *Scope) *string { return &s.UpdatedAt }),
)

var actionCodec = newCodec("Action",
	str("op", func(a *Action) *string { return &a.Op }),
	str("chat_id,omitempty", func(a *Action) *string { return &a.ChatID }),
	str("content,omitempty", func(a *Action) *string { return &a.Content }),
	strPtr("reply_to,omitempty", func(a *Action) **string { return &a.ReplyTo }),
	str("message_id,omitempty", func(a *Action) *string { return &a.MessageID }),
	str("session_key,omitempty", func(a *Action) *string { return &a.SessionKey }),
	str("kind,omitempty", func(a *Action) *string { return &a.Kind }),
	str("emoji,omitempty", func(a *Action) *string { return &a.Emoji }),
	boolean("remove,omitempty", func(a *Action) *bool { return &a.Remove }),
	strPtr("reason,omitempty", func(a *Action) **string { return &a.Reason }),
	anyMap("metadata,omitempty", func(a *Action) *map[string]any { return &a.Metadata }),
	str("platform,omitempty", func(a *Action) *string { return &a.Platform }),
	str("bot_id,omitempty", func(a *Action) *string { return &a.BotID }),
)

var sendResultCodec = newCodec("SendResult",
	boolean("success", func(s *SendResult) *bool { return &s.Success }),
	str("message_id,omitempty", func(s *SendResult) *string { return &s.MessageID }),
	str("error,omitempty", func(s *SendResult) *string { return &s.Error }),
	str("code,omitempty", func(s *SendResult) *string { return &s.Code }),
	boolean("ambiguous,omitempty", func(s *SendResult) *bool { return &s.Ambiguous }),
	strs("continuation_message_ids,omitempty", func(s *SendResult) *[]string { return &s.ContinuationMessageIDs }),
	str("thread_id,omitempty", func(s *SendResult) *string { return &s.ThreadID }),
	optional("chat_info,omitempty", chatInfoCodec, func(s *SendResult) **ChatInfo { return &s.ChatInfo }),
)

var chatInfoCodec = newCodec("ChatInfo",
	str("name", func(c *ChatInfo) *string { return &c.Name }),
	str("type", func(c *ChatInfo) *string { return &c.Type }),
)
