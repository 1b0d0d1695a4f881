package discord

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/wire"
	"github.com/relaybus/relaybus/pkg/wire/jsonscan"
)

// PlatformDiscord is the platform of every event Convert produces.
const PlatformDiscord = "discord"

// Interaction kinds (events.Interaction.Kind).
const (
	KindApplicationCommand = "application_command"
	KindMessageComponent   = "message_component"
	KindModalSubmit        = "modal_submit"
)

// Interaction contexts (events.Interaction.Context), Discord's 0, 1 and 2.
const (
	ContextGuild          = "guild"
	ContextBotDM          = "bot_dm"
	ContextPrivateChannel = "private_channel"
)

// Convert turns a forwarded Discord interaction body into a normalized
// MessageEvent (contract §5). fwd supplies the profile and the
// event's ForwardInfo; its body fields are not read (body is the decoded
// body).
//
// Text rendering:
//
//   - APPLICATION_COMMAND: "/" + name, then each option: a subcommand or
//     group contributes its name and its own options, any other option its
//     value (trimmed, when non-empty); joined by single spaces. Message type
//     "command", or "text" with empty text when the name is empty.
//     Context-menu (USER, MESSAGE) commands render as "/" + name as well.
//   - MESSAGE_COMPONENT: the custom id, type "text"; a prompt answer
//     ("hp1:<prompt_id>:<option_id>") renders as "/<option_id>", type
//     "command", and sets PromptResponse.
//   - MODAL_SUBMIT: one "custom_id=value" line per submitted field, type
//     "text".
//
// Everything the text loses is kept in the event's Interaction; attachments
// (ATTACHMENT options, file uploads) become Media. When the payload has no
// "context", Interaction.Context is inferred: "guild" with a guild_id,
// otherwise "bot_dm" (context was only missing for guild-only apps, which
// can be used in guilds and in the bot's DM but not in private channels);
// an unknown context number leaves it empty.
//
// Errors: ErrPing, ErrAutocomplete, or an *events.FrameError (see the
// package documentation). Convert never panics and never copies the
// interaction token anywhere. It is safe for concurrent use.
func Convert(body []byte, fwd wire.PassthroughForward) (events.MessageEvent, error) {
	in, err := decode(body)
	if err != nil {
		return events.MessageEvent{}, err
	}
	if in.ID == nil || *in.ID == "" {
		return events.MessageEvent{}, frameErr(events.ReasonMissingField, "id", "interaction has no id")
	}
	if in.Type == nil {
		return events.MessageEvent{}, frameErr(events.ReasonMissingField, "type", "interaction has no type")
	}
	switch *in.Type {
	case typePing:
		return events.MessageEvent{}, ErrPing
	case typeCommandAutocomplete:
		return events.MessageEvent{}, ErrAutocomplete
	case typeApplicationCommand, typeMessageComponent, typeModalSubmit:
	default:
		return events.MessageEvent{}, frameErr(events.ReasonUnsupported, "type", "unknown interaction type "+strconv.Itoa(*in.Type))
	}
	chatID := in.ChannelID
	if chatID == "" && in.Channel != nil {
		chatID = in.Channel.ID
	}
	if chatID == "" {
		return events.MessageEvent{}, frameErr(events.ReasonMissingField, "channel_id", "interaction has neither channel_id nor channel.id")
	}

	c := converter{in: &in, id: *in.ID}
	if in.Data != nil {
		c.data = in.Data
	} else {
		c.data = &wireData{}
	}
	c.ev.MessageID = c.id
	c.ev.Timestamp = snowflakeTime(c.id)
	c.ev.Source = source(&in, chatID, fwd.Profile)
	c.ev.Interaction = c.interaction()
	switch *in.Type {
	case typeApplicationCommand:
		c.command()
	case typeMessageComponent:
		c.component()
	case typeModalSubmit:
		c.modal()
	}
	c.ev.Forward = &events.ForwardInfo{Platform: fwd.Platform, BotID: fwd.BotID, Method: fwd.Method, Path: fwd.Path}
	c.ev.SessionKey = events.SessionKey(c.ev.Source, events.SessionKeyOptions{})
	c.ev.Normalize()
	return c.ev, nil
}

// decode parses the body into a wireInteraction; errors are the
// *events.FrameError of wire.UnmarshalObject (which never quotes body
// content), with a body that is not a JSON object reported as bad_body.
func decode(body []byte) (wireInteraction, error) {
	var in wireInteraction
	if t := jsonscan.TrimSpace(body); len(t) > 0 && t[0] == '{' && fastDecodeInteraction(body, &in) {
		return in, nil
	}
	if err := wire.UnmarshalObject(body, &in, ""); err != nil {
		fe := &events.FrameError{Reason: events.ReasonBadBody}
		errors.As(err, &fe)
		if fe.Reason != events.ReasonWrongType {
			fe.Reason = events.ReasonBadBody // not JSON, or not an object
		}
		return wireInteraction{}, frameErr(fe.Reason, fe.Field, fe.Detail)
	}
	return in, nil
}

func frameErr(reason, field, detail string) *events.FrameError {
	return &events.FrameError{Reason: reason, Field: field, Detail: "discord: " + detail}
}

// snowflakeTime returns the creation time encoded in a snowflake id, RFC 3339
// UTC with milliseconds, or "" when id is not a snowflake.
func snowflakeTime(id string) string {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		return ""
	}
	ms := int64(n>>snowflakeTimestampShift) + discordEpochMillis
	return time.UnixMilli(ms).UTC().Format(timestampLayoutRFC3339Msec)
}

// source builds the SessionSource (contract §5).
func source(in *wireInteraction, chatID, profile string) events.SessionSource {
	src := events.SessionSource{
		Platform: PlatformDiscord,
		ChatID:   chatID,
		ScopeID:  in.GuildID,
		GuildID:  in.GuildID,
		Profile:  profile,
	}
	switch {
	case in.GuildID == "":
		src.ChatType = events.ChatDM
	case in.Channel != nil && isThread(in.Channel.Type):
		src.ChatType = events.ChatThread
		src.ThreadID = chatID
		src.ParentChatID = in.Channel.ParentID
	default:
		src.ChatType = events.ChatGroup
	}
	if in.Channel != nil {
		src.ChatName = in.Channel.Name
		src.ChatTopic = in.Channel.Topic
	}
	user := in.User
	nick := ""
	if in.Member != nil && in.Member.User != nil {
		user = in.Member.User
		nick = in.Member.Nick
	}
	if user != nil {
		src.UserID = user.ID
		src.UserName = displayName(nick, user)
		src.IsBot = user.Bot
	}
	if in.Message != nil {
		src.MessageID = in.Message.ID
	}
	return src
}

func isThread(channelType int) bool {
	switch channelType {
	case channelAnnouncementThread, channelPublicThread, channelPrivateThread:
		return true
	}
	return false
}

// displayName is the contract's preference: nick, global name, username.
func displayName(nick string, u *wireUser) string {
	switch {
	case nick != "":
		return nick
	case u == nil:
		return ""
	case u.GlobalName != "":
		return u.GlobalName
	}
	return u.Username
}

// converter holds one conversion's state.
type converter struct {
	in   *wireInteraction
	data *wireData
	id   string
	ev   events.MessageEvent

	resolvedDone bool
	resolved     wireResolved
}

// interaction builds the structured part common to every kind.
func (c *converter) interaction() *events.Interaction {
	in := c.in
	it := &events.Interaction{
		ID:             c.id,
		ApplicationID:  in.ApplicationID,
		Locale:         in.Locale,
		GuildLocale:    in.GuildLocale,
		AppPermissions: in.AppPermissions,
	}
	switch *in.Type {
	case typeApplicationCommand:
		it.Kind = KindApplicationCommand
	case typeMessageComponent:
		it.Kind = KindMessageComponent
	case typeModalSubmit:
		it.Kind = KindModalSubmit
	}
	switch {
	case in.Context == nil && in.GuildID != "":
		it.Context = ContextGuild
	case in.Context == nil:
		it.Context = ContextBotDM
	case *in.Context == 0:
		it.Context = ContextGuild
	case *in.Context == 1:
		it.Context = ContextBotDM
	case *in.Context == 2:
		it.Context = ContextPrivateChannel
	}
	for k, v := range in.AuthorizingIntegrationOwners {
		s, ok := ownerString(v)
		if !ok {
			continue
		}
		if it.AuthorizingIntegrationOwners == nil {
			it.AuthorizingIntegrationOwners = make(map[string]string, len(in.AuthorizingIntegrationOwners))
		}
		it.AuthorizingIntegrationOwners[k] = s
	}
	return it
}

// ownerString renders an authorizing_integration_owners value: a string as
// is, a number as its decimal literal; anything else is dropped.
func ownerString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false
	}
	switch c := raw[0]; {
	case c == '"':
		s, _ := jsonscan.Unquote(raw)
		return s, true
	case c == '-' || (c >= '0' && c <= '9'):
		return formatNumber(string(raw)), true
	}
	return "", false
}

// decodeComponents decodes a components array leniently: what decodes is
// kept, a wrong-shaped entry only loses its fields.
func decodeComponents(raw json.RawMessage) []wireComponent {
	var comps []wireComponent
	if !fastDecodeComponents(raw, &comps) {
		comps = nil
		_ = json.Unmarshal(raw, &comps)
	}
	return comps
}

// resolvedData decodes data.resolved once, leniently.
func (c *converter) resolvedData() *wireResolved {
	if !c.resolvedDone {
		c.resolvedDone = true
		if len(c.data.Resolved) > 0 && !fastDecodeResolved(c.data.Resolved, &c.resolved) {
			c.resolved = wireResolved{}
			_ = json.Unmarshal(c.data.Resolved, &c.resolved) // lenient: keep what decodes
		}
	}
	return &c.resolved
}

// command converts an APPLICATION_COMMAND.
func (c *converter) command() {
	d := c.data
	cmd := &events.Command{
		ID:   scalarString(d.ID),
		Name: d.Name,
		Type: commandTypeName(d.Type),
		Path: []string{d.Name},
	}
	c.ev.Interaction.Command = cmd
	var text strings.Builder
	c.options(d.Options, cmd, &text, 0)
	if d.TargetID != "" {
		cmd.Target = c.target(d.Type, d.TargetID)
	}
	if d.Name == "" {
		c.ev.MessageType = events.MessageText
		return
	}
	c.ev.Text = "/" + d.Name + text.String()
	c.ev.MessageType = events.MessageCommand
}

// options renders options into text (each part preceded by a space) and
// collects leaf options and the command path.
func (c *converter) options(opts []wireOption, cmd *events.Command, text *strings.Builder, depth int) {
	for i := range opts {
		o := &opts[i]
		if o.Type == optionSubCommand || o.Type == optionSubCommandGroup {
			if o.Name != "" {
				text.WriteByte(' ')
				text.WriteString(o.Name)
				cmd.Path = append(cmd.Path, o.Name)
			}
			if depth < maxOptionDepth {
				c.options(o.Options, cmd, text, depth+1)
			}
			continue
		}
		value := scalarString(o.Value)
		if v := strings.TrimSpace(value); v != "" {
			text.WriteByte(' ')
			text.WriteString(v)
		}
		cmd.Options = append(cmd.Options, events.CommandOption{
			Name:    o.Name,
			Type:    optionTypeName(o.Type),
			Value:   value,
			Display: c.optionDisplay(o.Type, value),
		})
		if o.Type == optionAttachment && value != "" {
			c.addAttachment(value)
		}
	}
}

// optionDisplay names an entity option's value from the resolved data.
func (c *converter) optionDisplay(optionType int, value string) string {
	if value == "" {
		return ""
	}
	switch optionType {
	case 6: // USER
		return c.userDisplay(value)
	case 7: // CHANNEL
		return c.channelDisplay(value)
	case 8: // ROLE
		return c.roleDisplay(value)
	case 9: // MENTIONABLE: a user or a role, users first
		if s := c.userDisplay(value); s != "" {
			return s
		}
		return c.roleDisplay(value)
	case optionAttachment:
		if a, ok := c.resolvedData().Attachments[value]; ok {
			return a.Filename
		}
	}
	return ""
}

func (c *converter) userDisplay(id string) string {
	if name := c.userName(id); name != "" {
		return "@" + name
	}
	return ""
}

// userName is a resolved user's display name: member nick, global name,
// username.
func (c *converter) userName(id string) string {
	r := c.resolvedData()
	u, okU := r.Users[id]
	m, okM := r.Members[id]
	if !okU && !okM {
		return ""
	}
	return displayName(m.Nick, &u)
}

func (c *converter) channelDisplay(id string) string {
	if ch, ok := c.resolvedData().Channels[id]; ok && ch.Name != "" {
		return "#" + ch.Name
	}
	return ""
}

func (c *converter) roleDisplay(id string) string {
	if r, ok := c.resolvedData().Roles[id]; ok && r.Name != "" {
		return "@" + r.Name
	}
	return ""
}

// target resolves a context-menu command's target.
func (c *converter) target(commandType int, id string) *events.CommandTarget {
	r := c.resolvedData()
	msg, isMsg := r.Messages[id]
	kind := "user"
	if commandType == commandTypeMessage || (commandType != commandTypeUser && isMsg) {
		kind = "message"
	}
	t := &events.CommandTarget{Kind: kind, ID: id}
	if kind == "user" {
		t.Display = c.userName(id)
		return t
	}
	t.Content = msg.Content
	if msg.Author != nil {
		t.AuthorID = msg.Author.ID
		t.Display = displayName("", msg.Author)
	}
	return t
}

// addAttachment adds a resolved attachment to the event's media.
func (c *converter) addAttachment(id string) {
	a, ok := c.resolvedData().Attachments[id]
	if !ok || a.URL == "" {
		return
	}
	c.ev.Media = append(c.ev.Media, events.Media{
		URL:      a.URL,
		Kind:     events.MediaKind(a.ContentType),
		MIME:     a.ContentType,
		Size:     a.Size,
		Filename: a.Filename,
	})
	c.ev.MediaURLs = append(c.ev.MediaURLs, a.URL)
}

// component converts a MESSAGE_COMPONENT.
func (c *converter) component() {
	d := c.data
	comp := &events.Component{
		CustomID: d.CustomID,
		Type:     componentTypeName(d.ComponentType),
	}
	c.ev.Interaction.Component = comp
	if len(d.Values) > 0 {
		comp.Values = make([]string, len(d.Values))
		for i, v := range d.Values {
			comp.Values[i] = scalarString(v)
		}
	}
	var found *wireComponent
	var msgComps []wireComponent
	if c.in.Message != nil && len(c.in.Message.Components) > 0 && d.CustomID != "" {
		msgComps = decodeComponents(c.in.Message.Components) // lenient: labels are optional
		found = findComponent(msgComps, d.CustomID, 0)
	}
	if found != nil {
		comp.Label = found.Label
		if comp.Label == "" {
			comp.Label = found.Placeholder
		}
	}
	comp.ValueLabels = c.valueLabels(d.ComponentType, comp.Values, found)

	c.ev.Text = d.CustomID
	c.ev.MessageType = events.MessageText
	if pr, ok := parsePrompt(d.CustomID); ok {
		if c.in.Message != nil {
			pr.PromptMessageID = c.in.Message.ID
		}
		c.ev.PromptResponse = pr
		c.ev.Text = "/" + pr.OptionID
		c.ev.MessageType = events.MessageCommand
	}
}

// valueLabels names selected values: option labels for a string select,
// resolved names for entity selects. The result is parallel to values, with
// a value standing for its own label when it has none; it is nil when no
// value has a label.
func (c *converter) valueLabels(componentType int, values []string, found *wireComponent) []string {
	if len(values) == 0 {
		return nil
	}
	labels := make([]string, len(values))
	named := false
	for i, v := range values {
		var l string
		switch componentType {
		case componentStringSelect:
			if found != nil {
				for _, o := range found.Options {
					if o.Value == v {
						l = o.Label
						break
					}
				}
			}
		case 5:
			l = c.userDisplay(v)
		case 6:
			l = c.roleDisplay(v)
		case 7:
			l = c.optionDisplay(9, v)
		case 8:
			l = c.channelDisplay(v)
		}
		if l != "" {
			named = true
		} else {
			l = v
		}
		labels[i] = l
	}
	if !named {
		return nil
	}
	return labels
}

// findComponent walks message components depth-first (rows and containers
// via "components", sections via "components" and "accessory", labels via
// "component") for the one with custom id id.
func findComponent(comps []wireComponent, id string, depth int) *wireComponent {
	if depth > maxComponentDepth {
		return nil
	}
	for i := range comps {
		cp := &comps[i]
		if cp.CustomID == id {
			return cp
		}
		if f := findComponent(cp.Components, id, depth+1); f != nil {
			return f
		}
		if cp.Accessory != nil {
			if f := findComponent([]wireComponent{*cp.Accessory}, id, depth+1); f != nil {
				return f
			}
		}
		if cp.Component != nil {
			if f := findComponent([]wireComponent{*cp.Component}, id, depth+1); f != nil {
				return f
			}
		}
	}
	return nil
}

// parsePrompt recognizes "hp1:<prompt_id>:<option_id>".
func parsePrompt(customID string) (*events.PromptResponse, bool) {
	prefix, rest, ok := strings.Cut(customID, ":")
	if !ok || prefix != promptCustomIDPrefix {
		return nil, false
	}
	promptID, optionID, ok := strings.Cut(rest, ":")
	if !ok || !validPromptID(promptID) || !validPromptID(optionID) {
		return nil, false // also rejects a fourth part: ':' is not a valid id byte
	}
	return &events.PromptResponse{PromptID: promptID, OptionID: optionID}, true
}

// validPromptID reports whether s matches ^[A-Za-z0-9_.-]{1,32}$.
func validPromptID(s string) bool {
	if len(s) == 0 || len(s) > maxPromptIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '_', b == '.', b == '-':
		default:
			return false
		}
	}
	return true
}

// modal converts a MODAL_SUBMIT.
func (c *converter) modal() {
	d := c.data
	m := &events.Modal{CustomID: d.CustomID}
	c.ev.Interaction.Modal = m
	if len(d.Components) > 0 {
		c.fields(decodeComponents(d.Components), m, 0) // lenient: keep what decodes
	}
	var text strings.Builder
	for i, f := range m.Fields {
		if i > 0 {
			text.WriteByte('\n')
		}
		text.WriteString(f.CustomID)
		text.WriteByte('=')
		text.WriteString(f.Value)
	}
	c.ev.Text = text.String()
	c.ev.MessageType = events.MessageText
}

// fields collects submitted modal fields in order: through legacy action
// rows ("components") and labels ("component"); text displays and other
// children without a custom id contribute nothing.
func (c *converter) fields(comps []wireComponent, m *events.Modal, depth int) {
	if depth > maxComponentDepth {
		return
	}
	for i := range comps {
		cp := &comps[i]
		if cp.CustomID != "" && (modalFieldTypeName(cp.Type) != "" || cp.Value != nil || cp.Values != nil) {
			m.Fields = append(m.Fields, c.field(cp))
			continue
		}
		c.fields(cp.Components, m, depth+1)
		if cp.Component != nil {
			c.fields([]wireComponent{*cp.Component}, m, depth+1)
		}
	}
}

func (c *converter) field(cp *wireComponent) events.ModalField {
	f := events.ModalField{CustomID: cp.CustomID, Type: modalFieldTypeName(cp.Type)}
	if cp.Values != nil {
		if len(cp.Values) > 0 {
			f.Values = make([]string, len(cp.Values))
			for i, v := range cp.Values {
				f.Values[i] = scalarString(v)
			}
		}
		f.Value = strings.Join(f.Values, ",")
		if cp.Type == componentFileUpload {
			for _, id := range f.Values {
				c.addAttachment(id)
			}
		}
		return f
	}
	f.Value = scalarString(cp.Value)
	return f
}

// scalarString renders a JSON scalar as a string: a string's contents,
// true/false, a number in plain decimal (see formatNumber); null, objects and
// arrays render as "".
func scalarString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch c := raw[0]; {
	case c == '"':
		s, _ := jsonscan.Unquote(raw)
		return s
	case c == 't':
		return "true"
	case c == 'f':
		return "false"
	case c == '-' || (c >= '0' && c <= '9'):
		return formatNumber(string(raw))
	}
	return ""
}

// formatNumber renders a JSON number literal in decimal without an exponent:
// an integer literal as is (exact, whatever its size), anything else as the
// shortest decimal that round-trips through float64 ("1e3" → "1000",
// "2.50" → "2.5").
func formatNumber(lit string) string {
	plain := true
	for i := 0; i < len(lit); i++ {
		if b := lit[i]; !(b >= '0' && b <= '9') && !(i == 0 && b == '-') {
			plain = false
			break
		}
	}
	if plain {
		return lit
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return lit // out of float64 range: keep the literal
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func commandTypeName(t int) string {
	switch t {
	case 0, 1: // an absent type defaults to CHAT_INPUT
		return "chat_input"
	case 2:
		return "user"
	case 3:
		return "message"
	case 4:
		return "primary_entry_point"
	}
	return ""
}

func optionTypeName(t int) string {
	switch t {
	case 3:
		return "string"
	case 4:
		return "integer"
	case 5:
		return "boolean"
	case 6:
		return "user"
	case 7:
		return "channel"
	case 8:
		return "role"
	case 9:
		return "mentionable"
	case 10:
		return "number"
	case 11:
		return "attachment"
	}
	return ""
}

func componentTypeName(t int) string {
	switch t {
	case 2:
		return "button"
	case 3:
		return "string_select"
	case 5:
		return "user_select"
	case 6:
		return "role_select"
	case 7:
		return "mentionable_select"
	case 8:
		return "channel_select"
	}
	return ""
}

// modalFieldTypeName names the component types that submit a value in a
// modal; it returns "" for layout and display components.
func modalFieldTypeName(t int) string {
	switch t {
	case 4:
		return "text_input"
	case 19:
		return "file_upload"
	case 21:
		return "radio_group"
	case 22:
		return "checkbox_group"
	case 23:
		return "checkbox"
	case 2: // buttons submit nothing
		return ""
	}
	return componentTypeName(t)
}
