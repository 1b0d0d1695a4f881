package discord_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/relaybus/relaybus/internal/fixtures"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/wire"
	"github.com/relaybus/relaybus/services/passthrough-converter/internal/discord"
)

// Ids shared by the composed fixtures (the test guild of
// docs/discord-interactions.md).
const (
	app        = "1351586496152290540"
	testGuild  = "1302373407916968278"
	general    = "1302373677224805852"
	generalTop = "Talk to the helper agent with /ask"
	alice      = "577818028391043763"
	bob        = "749535180538201585"
	carol      = "1034821778593316905"
	roleOps    = "1302576172443419823"
	roleOnCall = "1302576460738502717"
	support    = "1326905914257835648"
)

// testForward is the forward every fixture arrives in.
var testForward = wire.PassthroughForward{
	Platform: "discord",
	BotID:    app,
	Method:   "POST",
	Path:     "/interactions/discord/" + app,
	BodyB64:  "ignored-by-convert",
}

func forwardInfo() *events.ForwardInfo {
	return &events.ForwardInfo{Platform: "discord", BotID: app, Method: "POST", Path: "/interactions/discord/" + app}
}

// generalSource is a source in #general of the test guild.
func generalSource(userID, userName, messageID string) events.SessionSource {
	return events.SessionSource{
		Platform:  "discord",
		ChatID:    general,
		ChatType:  "group",
		ChatName:  "general",
		ChatTopic: generalTop,
		UserID:    userID,
		UserName:  userName,
		ScopeID:   testGuild,
		GuildID:   testGuild,
		MessageID: messageID,
	}
}

// testGuildInteraction is the structured part common to the composed
// test-guild fixtures.
func testGuildInteraction(id, kind string) *events.Interaction {
	return &events.Interaction{
		ID:                           id,
		ApplicationID:                app,
		Kind:                         kind,
		Context:                      "guild",
		Locale:                       "en-GB",
		GuildLocale:                  "en-US",
		AuthorizingIntegrationOwners: map[string]string{"0": testGuild},
		AppPermissions:               "2248473465835073",
	}
}

func withCommand(it *events.Interaction, c *events.Command) *events.Interaction {
	it.Command = c
	return it
}

// inGeneral completes ev, the event of a composed interaction in #general
// of the test guild by userID (userName), on the bot's message messageID
// ("" for a command): it adds the source, the session key, the forward and
// the interaction's common part (testGuildInteraction, whose id is the
// event's message id). ev.Interaction states only the kind and what the
// interaction carries: its command, component or modal.
func inGeneral(userID, userName, messageID string, ev events.MessageEvent) events.MessageEvent {
	it := testGuildInteraction(ev.MessageID, ev.Interaction.Kind)
	it.Command, it.Component, it.Modal = ev.Interaction.Command, ev.Interaction.Component, ev.Interaction.Modal
	ev.Interaction = it
	ev.Source = generalSource(userID, userName, messageID)
	ev.SessionKey = groupKey(general, userID)
	ev.Forward = forwardInfo()
	return ev
}

// aliceSelected is the event of Alice's choice in the select menu c on
// the bot's message messageID in #general: its text is the menu's custom id.
func aliceSelected(id, timestamp, messageID string, c *events.Component) events.MessageEvent {
	return inGeneral(alice, "Alice", messageID, events.MessageEvent{
		Text: c.CustomID, MessageType: "text", MessageID: id, Timestamp: timestamp,
		Interaction: &events.Interaction{Kind: "message_component", Component: c},
	})
}

func groupKey(chat, user string) string { return "agent:main:discord:group:" + chat + ":" + user }

// readFixture returns the Discord fixture name (internal/fixtures/discord).
func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := fixtures.ReadDiscord(name)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// fixtureToken returns the top-level "token" of a fixture body.
func fixtureToken(tb testing.TB, body []byte) string {
	tb.Helper()
	var v struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		tb.Fatal(err)
	}
	return v.Token
}

func TestConvertFixtures(t *testing.T) {
	const (
		attachmentID = "1471073413919436800"
		attachURL    = "https://cdn.discordapp.com/ephemeral-attachments/1351594203411353661/1471073413919436800/q4-report.pdf?ex=698c7a51&is=698b28d1&hm=5e1c0f4d8b0f2f3e9a7c6b5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f&"
		uploadID     = "1474362743980265472"
		uploadURL    = "https://cdn.discordapp.com/ephemeral-attachments/1463000000000000000/1474362743980265472/screenshot.png?ex=699a0b1f&is=6998b99f&hm=0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9&"
		thread       = "1467900123456789012"
		groupDM      = "1470112233445566778"
	)
	tests := []struct {
		file    string
		profile string
		want    events.MessageEvent
		wantErr error
	}{
		{file: "01_ping.json", wantErr: discord.ErrPing},
		{file: "30_autocomplete.json", wantErr: discord.ErrAutocomplete},
		{
			file: "02_slash_command_options.json",
			want: events.MessageEvent{
				Text:        "/cardsearch The Gitrog Monster",
				MessageType: "command",
				MessageID:   "786008729715212338",
				Source: events.SessionSource{
					Platform: "discord", ChatID: "645027906669510667", ChatType: "group", ChatName: "mtg-chat",
					UserID: "53908232506183680", UserName: "Mason",
					ScopeID: "290926798626357999", GuildID: "290926798626357999",
				},
				SessionKey: groupKey("645027906669510667", "53908232506183680"),
				Timestamp:  "2020-12-08T23:18:04.500Z",
				Interaction: &events.Interaction{
					ID: "786008729715212338", ApplicationID: "290926444748734465", Kind: "application_command",
					Context: "guild", Locale: "en-US", GuildLocale: "en-US",
					AuthorizingIntegrationOwners: map[string]string{"0": "290926798626357999"},
					AppPermissions:               "442368",
					Command: &events.Command{
						ID: "771825006014889984", Name: "cardsearch", Type: "chat_input", Path: []string{"cardsearch"},
						Options: []events.CommandOption{{Name: "cardname", Type: "string", Value: "The Gitrog Monster"}},
					},
				},
				Forward: forwardInfo(),
			},
		},
		{
			file:    "04_slash_subcommand.json",
			profile: "ops",
			want: events.MessageEvent{
				Text:        "/config set model claude-sonnet-4",
				MessageType: "command",
				MessageID:   "1461288832266516421",
				Source: func() events.SessionSource {
					s := generalSource(alice, "Alice", "")
					s.Profile = "ops"
					return s
				}(),
				SessionKey: "agent:ops:discord:group:" + general + ":" + alice,
				Timestamp:  "2026-01-15T09:20:07.045Z",
				Interaction: withCommand(testGuildInteraction("1461288832266516421", "application_command"), &events.Command{
					ID: "1351591229894093758", Name: "config", Type: "chat_input", Path: []string{"config", "set"},
					Options: []events.CommandOption{
						{Name: "key", Type: "string", Value: "model"},
						{Name: "value", Type: "string", Value: "claude-sonnet-4"},
					},
				}),
				Forward: forwardInfo(),
			},
		},
		{file: "05_slash_subcommand_group.json", want: inGeneral(alice, "Alice", "", events.MessageEvent{
			Text:        "/permissions user get " + bob + " " + support,
			MessageType: "command", MessageID: "1461290248591006210", Timestamp: "2026-01-15T09:25:44.724Z",
			Interaction: &events.Interaction{Kind: "application_command", Command: &events.Command{
				ID: "1351591479291067852", Name: "permissions", Type: "chat_input", Path: []string{"permissions", "user", "get"},
				Options: []events.CommandOption{
					{Name: "user", Type: "user", Value: bob, Display: "@Bob (ops)"},
					{Name: "channel", Type: "channel", Value: support, Display: "#support"},
				},
			}},
		})},
		{
			file: "08_button_click.json",
			want: events.MessageEvent{
				Text:        "hello",
				MessageType: "text",
				MessageID:   "1457536583141163186",
				Source: events.SessionSource{
					Platform: "discord", ChatID: "1457536551830421524", ChatType: "thread",
					ChatName: "Thread 1/5/2026, 12:49:56 AM",
					UserID:   "1033044521375764530", UserName: "Test User",
					ThreadID: "1457536551830421524", ParentChatID: "1457510428359004343",
					ScopeID: "1457468924290662599", GuildID: "1457468924290662599",
					MessageID: "1457536567810854934",
				},
				SessionKey: "agent:main:discord:thread:1457536551830421524:1457536551830421524",
				Timestamp:  "2026-01-05T00:50:01.141Z",
				Interaction: &events.Interaction{
					ID: "1457536583141163186", ApplicationID: "1457469483726668048", Kind: "message_component",
					Context: "guild", Locale: "en-US", GuildLocale: "en-US",
					AuthorizingIntegrationOwners: map[string]string{"0": "1457468924290662599"},
					AppPermissions:               "2248473465835073",
					Component:                    &events.Component{CustomID: "hello", Type: "button", Label: "Say hello"},
				},
				Forward: forwardInfo(),
			},
		},
		{
			file: "09_string_select.json",
			want: events.MessageEvent{
				Text:        "class_select_1",
				MessageType: "text",
				MessageID:   "847587388497854464",
				Source: events.SessionSource{
					Platform: "discord", ChatID: "772908445358620702", ChatType: "group",
					UserID: "53908232506183680", UserName: "Bot Man",
					ScopeID: "772904309264089089", GuildID: "772904309264089089",
					MessageID: "847587334500646933",
				},
				SessionKey: groupKey("772908445358620702", "53908232506183680"),
				Timestamp:  "2021-05-27T21:29:40.830Z",
				Interaction: &events.Interaction{
					ID: "847587388497854464", ApplicationID: "845027738276462632", Kind: "message_component",
					Context: "guild", // no "context" in this (2021) body: inferred from guild_id
					Component: &events.Component{
						CustomID: "class_select_1", Type: "string_select", Label: "Choose a class",
						Values: []string{"mage", "rogue"}, ValueLabels: []string{"Mage", "Rogue"},
					},
				},
				Forward: forwardInfo(),
			},
		},
		{file: "11_modal_submit.json", want: inGeneral(alice, "Alice", "", events.MessageEvent{
			Text: "bug_string_select=butterfly\n" +
				"bug_explanation=They start as caterpillars and end up with wings.\nAlso the colours are great.\n" +
				"subscribe=true",
			MessageType: "text", MessageID: "1461295693544546001", Timestamp: "2026-01-15T09:47:22.902Z",
			Interaction: &events.Interaction{Kind: "modal_submit", Modal: &events.Modal{
				CustomID: "bug_modal",
				Fields: []events.ModalField{
					{CustomID: "bug_string_select", Type: "string_select", Value: "butterfly", Values: []string{"butterfly"}},
					{CustomID: "bug_explanation", Type: "text_input", Value: "They start as caterpillars and end up with wings.\nAlso the colours are great."},
					{CustomID: "subscribe", Type: "checkbox", Value: "true"},
				},
			}},
		})},
		{
			file:    "14_dm_slash_command.json",
			profile: "main",
			want: events.MessageEvent{
				Text:        "/ask summarise my open tickets",
				MessageType: "command",
				MessageID:   "1461300329963655626",
				Source: events.SessionSource{
					Platform: "discord", ChatID: "1356542537715944662", ChatType: "dm",
					UserID: alice, UserName: "Alice", Profile: "main",
				},
				SessionKey: "agent:main~:discord:dm:1356542537715944662",
				Timestamp:  "2026-01-15T10:05:48.310Z",
				Interaction: &events.Interaction{
					ID: "1461300329963655626", ApplicationID: app, Kind: "application_command",
					Context: "bot_dm", Locale: "de",
					AuthorizingIntegrationOwners: map[string]string{"0": "0"},
					AppPermissions:               "442368",
					Command: &events.Command{
						ID: "1351590977090547378", Name: "ask", Type: "chat_input", Path: []string{"ask"},
						Options: []events.CommandOption{{Name: "question", Type: "string", Value: "summarise my open tickets"}},
					},
				},
				Forward: forwardInfo(),
			},
		},
		{file: "20_user_context_menu.json", want: inGeneral(alice, "Alice", "", events.MessageEvent{
			Text: "/View Stats", MessageType: "command", MessageID: "1461299922862489600", Timestamp: "2026-01-15T10:04:11.250Z",
			Interaction: &events.Interaction{Kind: "application_command", Command: &events.Command{
				ID: "1351593310021554209", Name: "View Stats", Type: "user", Path: []string{"View Stats"},
				Target: &events.CommandTarget{Kind: "user", ID: bob, Display: "Bob (ops)"},
			}},
		})},
		{file: "21_message_context_menu.json", want: inGeneral(alice, "Alice", "", events.MessageEvent{
			Text: "/Summarize thread", MessageType: "command", MessageID: "1461300810592854016", Timestamp: "2026-01-15T10:07:42.901Z",
			Interaction: &events.Interaction{Kind: "application_command", Command: &events.Command{
				ID: "1351593451336171580", Name: "Summarize thread", Type: "message", Path: []string{"Summarize thread"},
				Target: &events.CommandTarget{
					Kind: "message", ID: "1461298378803326976", Display: "Bob",
					Content:  "Deploy of api-gateway failed again, see <#" + support + ">",
					AuthorID: bob,
				},
			}},
		})},
		{file: "22_legacy_modal_submit.json", want: inGeneral(alice, "Alice", "1461729372414709760", events.MessageEvent{
			Text:        "rating=4\ncomment=Good, but cite sources.\nAnd be shorter.\ncontact=",
			MessageType: "text", MessageID: "1461729480495628288", Timestamp: "2026-01-16T14:31:05.770Z",
			Interaction: &events.Interaction{Kind: "modal_submit", Modal: &events.Modal{
				CustomID: "feedback_modal",
				Fields: []events.ModalField{
					{CustomID: "rating", Type: "text_input", Value: "4"},
					{CustomID: "comment", Type: "text_input", Value: "Good, but cite sources.\nAnd be shorter."},
					{CustomID: "contact", Type: "text_input", Value: ""},
				},
			}},
		})},
		{file: "23_prompt_button.json", want: inGeneral(bob, "Bob (ops)", "1467795434313216000", events.MessageEvent{
			Text: "/approve", MessageType: "command", MessageID: "1467795541451984896", Timestamp: "2026-02-02T08:15:27.404Z",
			PromptResponse: &events.PromptResponse{
				PromptID: "deploy-7f3a", OptionID: "approve", PromptMessageID: "1467795434313216000",
			},
			Interaction: &events.Interaction{Kind: "message_component", Component: &events.Component{
				CustomID: "hp1:deploy-7f3a:approve", Type: "button", Label: "Approve",
			}},
		})},
		{
			file: "24_thread_slash_command.json",
			want: events.MessageEvent{
				Text:        "/remind 15 true 1.5 check the rollback",
				MessageType: "command",
				MessageID:   "1468330745551593472",
				Source: events.SessionSource{
					Platform: "discord", ChatID: thread, ChatType: "thread", ChatName: "incident-2026-02-03",
					UserID: alice, UserName: "Alice",
					ThreadID: thread, ParentChatID: general,
					ScopeID: testGuild, GuildID: testGuild,
				},
				SessionKey: "agent:main:discord:thread:" + thread + ":" + thread,
				Timestamp:  "2026-02-03T19:42:10.005Z",
				Interaction: withCommand(testGuildInteraction("1468330745551593472", "application_command"), &events.Command{
					ID: "1351594012234655785", Name: "remind", Type: "chat_input", Path: []string{"remind"},
					Options: []events.CommandOption{
						{Name: "minutes", Type: "integer", Value: "15"},
						{Name: "loud", Type: "boolean", Value: "true"},
						{Name: "factor", Type: "number", Value: "1.5"}, // the body says 1.50
						{Name: "note", Type: "string", Value: "  check the rollback  "},
					},
				}),
				Forward: forwardInfo(),
			},
		},
		{file: "25_role_select.json", want: aliceSelected("1470751404618522624", "2026-02-10T12:01:00.100Z", "1470751152540282880", &events.Component{
			CustomID: "notify_roles", Type: "role_select", Label: "Who should be paged?",
			Values: []string{roleOnCall, roleOps}, ValueLabels: []string{"@on-call", "@ops"},
		})},
		{file: "26_channel_select.json", want: aliceSelected("1470751656694337536", "2026-02-10T12:02:00.200Z", "1470751152539430912", &events.Component{
			CustomID: "report_channel", Type: "channel_select", Label: "Post the report in…",
			Values: []string{support}, ValueLabels: []string{"#support"},
		})},
		{file: "27_user_select.json", want: aliceSelected("1470751908771205120", "2026-02-10T12:03:00.300Z", "1470751152540532736", &events.Component{
			CustomID: "assignee", Type: "user_select", Label: "Assign to",
			// Bob has a nick; Carol has neither nick nor global name.
			Values: []string{bob, carol}, ValueLabels: []string{"@Bob (ops)", "@carol_k"},
		})},
		{file: "28_mentionable_select.json", want: aliceSelected("1470752160848932864", "2026-02-10T12:04:00.400Z", "1470751152538447872", &events.Component{
			CustomID: "cc", Type: "mentionable_select", Label: "Copy in",
			Values: []string{carol, roleOps}, ValueLabels: []string{"@carol_k", "@ops"},
		})},
		{file: "29_attachment_option.json", want: inGeneral(alice, "Alice", "", events.MessageEvent{
			Text:        "/summarize " + attachmentID + " revenue",
			MessageType: "command", MessageID: "1471073414897442816", Timestamp: "2026-02-11T09:20:33.333Z",
			MediaURLs: []string{attachURL},
			Media: []events.Media{{
				URL: attachURL, Kind: "document", MIME: "application/pdf", Size: 482133, Filename: "q4-report.pdf",
			}},
			Interaction: &events.Interaction{Kind: "application_command", Command: &events.Command{
				ID: "1351594203411353661", Name: "summarize", Type: "chat_input", Path: []string{"summarize"},
				Options: []events.CommandOption{
					{Name: "file", Type: "attachment", Value: attachmentID, Display: "q4-report.pdf"},
					{Name: "focus", Type: "string", Value: "revenue"},
				},
			}},
		})},
		{
			file: "31_group_dm_slash_command.json",
			want: events.MessageEvent{
				Text:        "/ask what time works for everyone?",
				MessageType: "command",
				MessageID:   "1472339157455425536",
				Source: events.SessionSource{
					Platform: "discord", ChatID: groupDM, ChatType: "dm", ChatName: "weekend plans",
					UserID: alice, UserName: "Alice",
				},
				SessionKey: "agent:main:discord:dm:" + groupDM,
				Timestamp:  "2026-02-14T21:10:09.876Z",
				Interaction: &events.Interaction{
					ID: "1472339157455425536", ApplicationID: app, Kind: "application_command",
					Context: "private_channel", Locale: "en-US",
					AuthorizingIntegrationOwners: map[string]string{"1": alice},
					AppPermissions:               "180224",
					Command: &events.Command{
						ID: "1351590977090547378", Name: "ask", Type: "chat_input", Path: []string{"ask"},
						Options: []events.CommandOption{{Name: "question", Type: "string", Value: "what time works for everyone?"}},
					},
				},
				Forward: forwardInfo(),
			},
		},
		{file: "32_modal_file_upload.json", want: inGeneral(alice, "Alice", "", events.MessageEvent{
			Text:        "evidence=" + uploadID + "\nseverity=\naffected=api,web\nowner=" + bob + "\npage_oncall=false",
			MessageType: "text", MessageID: "1474362746545909760", Timestamp: "2026-02-20T11:11:11.111Z",
			MediaURLs: []string{uploadURL},
			Media: []events.Media{{
				URL: uploadURL, Kind: "photo", MIME: "image/png", Size: 91342, Filename: "screenshot.png",
			}},
			Interaction: &events.Interaction{Kind: "modal_submit", Modal: &events.Modal{
				CustomID: "incident_report",
				Fields: []events.ModalField{
					{CustomID: "evidence", Type: "file_upload", Value: uploadID, Values: []string{uploadID}},
					{CustomID: "severity", Type: "radio_group", Value: ""},
					{CustomID: "affected", Type: "checkbox_group", Value: "api,web", Values: []string{"api", "web"}},
					{CustomID: "owner", Type: "user_select", Value: bob, Values: []string{bob}},
					{CustomID: "page_oncall", Type: "checkbox", Value: "false"},
				},
			}},
		})},
		{file: "33_components_v2_button.json", want: inGeneral(alice, "Alice", "1474669219680100352", events.MessageEvent{
			Text: "show_warnings", MessageType: "text", MessageID: "1474669472386310144", Timestamp: "2026-02-21T07:30:00.250Z",
			Interaction: &events.Interaction{Kind: "message_component", Component: &events.Component{
				// The button is a section's accessory inside a container.
				CustomID: "show_warnings", Type: "button", Label: "Show warnings",
			}},
		})},
	}

	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.file] = true
		t.Run(strings.TrimSuffix(tt.file, ".json"), func(t *testing.T) {
			body := readFixture(t, tt.file)
			fwd := testForward
			fwd.Profile = tt.profile
			got, err := discord.Convert(body, fwd)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Convert(%s) error = %v, want %v", tt.file, err, tt.wantErr)
				}
				if tok := fixtureToken(t, body); strings.Contains(err.Error(), tok) {
					t.Errorf("Convert(%s) error quotes the token", tt.file)
				}
				return
			}
			if err != nil {
				t.Fatalf("Convert(%s) error = %v", tt.file, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Convert(%s) mismatch (-want +got):\n%s", tt.file, diff)
			}
			if key := events.SessionKey(got.Source, events.SessionKeyOptions{}); got.SessionKey != key {
				t.Errorf("SessionKey = %q, want SessionKey(Source) = %q", got.SessionKey, key)
			}
		})
	}

	// Every fixture has a row.
	for _, f := range fixtures.DiscordNames() {
		if !covered[f] {
			t.Errorf("fixture %s has no row in TestConvertFixtures", f)
		}
	}
}

// TestConvertNeverLeaksToken checks, for every fixture, that neither the
// event nor an error carries the interaction token or anything that looks
// like one.
func TestConvertNeverLeaksToken(t *testing.T) {
	// base64 of "interaction:" (every real token starts with it).
	const tokenPrefix = "aW50ZXJhY3Rpb246"
	for _, f := range fixtures.DiscordNames() {
		t.Run(f, func(t *testing.T) {
			body := readFixture(t, f)
			tok := fixtureToken(t, body)
			if len(tok) < 100 || !strings.HasPrefix(tok, tokenPrefix) {
				t.Fatalf("fixture token %.20q… is not shaped like a real one", tok)
			}
			ev, err := discord.Convert(body, testForward)
			var out []byte
			if err != nil {
				out = []byte(err.Error())
			} else {
				var buf bytes.Buffer
				enc := json.NewEncoder(&buf)
				enc.SetEscapeHTML(false)
				if err := enc.Encode(ev); err != nil {
					t.Fatal(err)
				}
				out = buf.Bytes()
			}
			if bytes.Contains(out, []byte(tok)) {
				t.Errorf("Convert(%s) output contains the token", f)
			}
			if bytes.Contains(out, []byte(tokenPrefix)) {
				t.Errorf("Convert(%s) output contains %q", f, tokenPrefix)
			}
		})
	}
}

func TestConvertErrors(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantErr    error
		wantReason string
		wantField  string
	}{
		{name: "NotJSON", body: `interaction`, wantReason: events.ReasonBadBody},
		{name: "Empty", body: ``, wantReason: events.ReasonBadBody},
		{name: "TruncatedObject", body: `{"id":"1","type":2`, wantReason: events.ReasonBadBody},
		{name: "ArrayBody", body: `[{"id":"1","type":2}]`, wantReason: events.ReasonBadBody},
		{name: "StringBody", body: `"hello"`, wantReason: events.ReasonBadBody},
		{name: "NullBody", body: `null`, wantReason: events.ReasonBadBody},
		{name: "IDNumber", body: `{"id":786008729715212338,"type":2,"channel_id":"c"}`, wantReason: events.ReasonWrongType, wantField: "id"},
		{name: "MissingID", body: `{"type":2,"channel_id":"c","data":{"name":"new"}}`, wantReason: events.ReasonMissingField, wantField: "id"},
		{name: "EmptyID", body: `{"id":"","type":2,"channel_id":"c"}`, wantReason: events.ReasonMissingField, wantField: "id"},
		{name: "NullID", body: `{"id":null,"type":2,"channel_id":"c"}`, wantReason: events.ReasonMissingField, wantField: "id"},
		{name: "MissingType", body: `{"id":"1","channel_id":"c"}`, wantReason: events.ReasonMissingField, wantField: "type"},
		{name: "TypeString", body: `{"id":"1","type":"2","channel_id":"c"}`, wantReason: events.ReasonWrongType, wantField: "type"},
		{name: "TypeFraction", body: `{"id":"1","type":2.5,"channel_id":"c"}`, wantReason: events.ReasonWrongType, wantField: "type"},
		{name: "MissingChannel", body: `{"id":"1","type":2,"guild_id":"g","data":{"name":"new"}}`, wantReason: events.ReasonMissingField, wantField: "channel_id"},
		{name: "MissingChannelEmptyObject", body: `{"id":"1","type":3,"channel":{},"data":{"custom_id":"x"}}`, wantReason: events.ReasonMissingField, wantField: "channel_id"},
		{name: "ChannelNotObject", body: `{"id":"1","type":2,"channel":"c"}`, wantReason: events.ReasonWrongType, wantField: "channel"},
		{name: "Type99", body: `{"id":"1","type":99,"channel_id":"c"}`, wantReason: events.ReasonUnsupported, wantField: "type"},
		{name: "Type0", body: `{"id":"1","type":0,"channel_id":"c"}`, wantReason: events.ReasonUnsupported, wantField: "type"},
		{name: "DataNotObject", body: `{"id":"1","type":2,"channel_id":"c","data":"new"}`, wantReason: events.ReasonWrongType, wantField: "data"},
		{name: "DataArray", body: `{"id":"1","type":2,"channel_id":"c","data":[]}`, wantReason: events.ReasonWrongType, wantField: "data"},
		{name: "OptionsWrongType", body: `{"id":"1","type":2,"channel_id":"c","data":{"name":"model","options":{"name":"x"}}}`, wantReason: events.ReasonWrongType, wantField: "data.options"},
		{name: "NestedOptionTypeWrong", body: `{"id":"1","type":2,"channel_id":"c","data":{"name":"a","options":[{"name":"b","type":1,"options":[{"name":"c","type":"3"}]}]}}`, wantReason: events.ReasonWrongType, wantField: "data.options.options.type"},
		{name: "UserIDNumber", body: `{"id":"1","type":2,"channel_id":"c","user":{"id":5}}`, wantReason: events.ReasonWrongType, wantField: "user.id"},
		{name: "ContextString", body: `{"id":"1","type":2,"channel_id":"c","context":"guild"}`, wantReason: events.ReasonWrongType, wantField: "context"},
		{name: "OwnersArray", body: `{"id":"1","type":2,"channel_id":"c","authorizing_integration_owners":["1"]}`, wantReason: events.ReasonWrongType, wantField: "authorizing_integration_owners"},
		{name: "ErrPing", body: `{"id":"1","type":1,"token":"secret-token-value"}`, wantErr: discord.ErrPing},
		{name: "ErrAutocomplete", body: `{"id":"1","type":4,"channel_id":"c","data":{"name":"x","options":[{"name":"q","type":3,"value":"a","focused":true}]}}`, wantErr: discord.ErrAutocomplete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := discord.Convert([]byte(tt.body), testForward)
			if err == nil {
				t.Fatalf("Convert(%q) = %+v, want an error", tt.body, ev)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Convert(%q) error = %v, want %v", tt.body, err, tt.wantErr)
				}
				return
			}
			var fe *events.FrameError
			if !errors.As(err, &fe) {
				t.Fatalf("Convert(%q) error = %T %v, want *events.FrameError", tt.body, err, err)
			}
			if !errors.Is(err, events.ErrBadFrame) {
				t.Errorf("errors.Is(%v, events.ErrBadFrame) = false", err)
			}
			if fe.Reason != tt.wantReason || fe.Field != tt.wantField {
				t.Errorf("Convert(%q) error = %v, want reason %q field %q", tt.body, err, tt.wantReason, tt.wantField)
			}
			if !strings.HasPrefix(fe.Detail, "discord: ") {
				t.Errorf("Detail = %q, want the discord: prefix", fe.Detail)
			}
		})
	}
}

// TestConvertErrorNeverQuotesToken: a bad body's error does not quote the
// token, whatever is wrong with the body.
func TestConvertErrorNeverQuotesToken(t *testing.T) {
	const tok = "aW50ZXJhY3Rpb246OTk5OnNlY3JldA"
	bodies := []string{
		`{"token":"` + tok + `","type":2,"channel_id":"c"}`,
		`{"token":"` + tok + `","id":5,"type":2}`,
		`{"token":"` + tok + `","id":"1","type":"` + tok + `"}`,
		`{"token":"` + tok + `","id":"1","type":77,"channel_id":"c"}`,
		`{"token":"` + tok + `","id":"1","type":2,"data":{"options":"` + tok + `"},"channel_id":"c"}`,
		`{"token":"` + tok + `" "id":"1"}`,
		`{"id":"1","type":2,"channel_id":"c","token":` + tok + `}`,
	}
	for _, b := range bodies {
		_, err := discord.Convert([]byte(b), testForward)
		if err == nil {
			t.Fatalf("Convert(%q) succeeded, want an error", b)
		}
		if strings.Contains(err.Error(), tok) || strings.Contains(err.Error(), "aW50ZXJhY3Rpb24") {
			t.Errorf("Convert(%q) error %q quotes the token", b, err)
		}
	}
}

// convertOne converts an inline body that must succeed.
func convertOne(tb testing.TB, body string) events.MessageEvent {
	tb.Helper()
	ev, err := discord.Convert([]byte(body), testForward)
	if err != nil {
		tb.Fatalf("Convert(%q) error = %v", body, err)
	}
	return ev
}

func TestConvertRules(t *testing.T) {
	const guildEnv = `"id":"1461288832266516421","guild_id":"g1","channel_id":"c1","member":{"nick":null,"user":{"id":"u1","username":"un","global_name":"Global"}}`
	tests := []struct {
		name string
		body string
		// check compares the relevant part of the event.
		check func(t *testing.T, ev events.MessageEvent)
	}{
		{
			name: "EmptyNameIsEmptyText",
			body: `{` + guildEnv + `,"type":2,"data":{"name":"","options":[{"name":"q","type":3,"value":"x"}]}}`,
			check: func(t *testing.T, ev events.MessageEvent) {
				if ev.Text != "" || ev.MessageType != "text" {
					t.Errorf("text, type = %q, %q; want \"\", text", ev.Text, ev.MessageType)
				}
			},
		},
		{
			name: "NoDataIsEmptyCommand",
			body: `{` + guildEnv + `,"type":2}`,
			check: func(t *testing.T, ev events.MessageEvent) {
				want := &events.Command{Type: "chat_input", Path: []string{""}}
				if ev.Text != "" || ev.MessageType != "text" {
					t.Errorf("text, type = %q, %q; want \"\", text", ev.Text, ev.MessageType)
				}
				if diff := cmp.Diff(want, ev.Interaction.Command); diff != "" {
					t.Errorf("Command mismatch (-want +got):\n%s", diff)
				}
			},
		},
		{
			name:  "BareCommand",
			body:  `{` + guildEnv + `,"type":2,"data":{"id":"9","name":"new","type":1}}`,
			check: wantText("/new", "command"),
		},
		{
			name:  "EmptyAndBlankValuesSkipped",
			body:  `{` + guildEnv + `,"type":2,"data":{"name":"model","options":[{"name":"a","type":3,"value":""},{"name":"b","type":3,"value":"   "},{"name":"c","type":3,"value":" gpt-x\t"}]}}`,
			check: wantText("/model gpt-x", "command"),
		},
		{
			name: "SubcommandWithoutOptions",
			body: `{` + guildEnv + `,"type":2,"data":{"name":"skill","options":[{"name":"run","type":2,"options":[{"name":"deploy","type":1}]}]}}`,
			check: func(t *testing.T, ev events.MessageEvent) {
				wantText("/skill run deploy", "command")(t, ev)
				if diff := cmp.Diff([]string{"skill", "run", "deploy"}, ev.Interaction.Command.Path); diff != "" {
					t.Errorf("Path mismatch (-want +got):\n%s", diff)
				}
				if ev.Interaction.Command.Options != nil {
					t.Errorf("Options = %v, want none", ev.Interaction.Command.Options)
				}
			},
		},
		{
			name: "NumberRendering",
			body: `{` + guildEnv + `,"type":2,"data":{"name":"n","options":[` +
				`{"name":"a","type":4,"value":1e3},{"name":"b","type":4,"value":9007199254740993},` +
				`{"name":"c","type":10,"value":2.50},{"name":"d","type":10,"value":1e-7},{"name":"e","type":4,"value":-12},` +
				`{"name":"f","type":5,"value":false},{"name":"g","type":3,"value":null},{"name":"h","type":3,"value":{"x":1}},` +
				`{"name":"i","type":10,"value":1e400}]}}`,
			check: func(t *testing.T, ev events.MessageEvent) {
				wantText("/n 1000 9007199254740993 2.5 0.0000001 -12 false 1e400", "command")(t, ev)
				var values []string
				for _, o := range ev.Interaction.Command.Options {
					values = append(values, o.Type+"="+o.Value)
				}
				want := []string{"integer=1000", "integer=9007199254740993", "number=2.5", "number=0.0000001", "integer=-12",
					"boolean=false", "string=", "string=", "number=1e400"}
				if diff := cmp.Diff(want, values); diff != "" {
					t.Errorf("option values mismatch (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "UnresolvedEntityHasNoDisplay",
			body: `{` + guildEnv + `,"type":2,"data":{"name":"ping","options":[{"name":"who","type":9,"value":"42"},{"name":"att","type":11,"value":"43"}]}}`,
			check: func(t *testing.T, ev events.MessageEvent) {
				wantText("/ping 42 43", "command")(t, ev)
				want := []events.CommandOption{{Name: "who", Type: "mentionable", Value: "42"}, {Name: "att", Type: "attachment", Value: "43"}}
				if diff := cmp.Diff(want, ev.Interaction.Command.Options); diff != "" {
					t.Errorf("Options mismatch (-want +got):\n%s", diff)
				}
				if ev.Media != nil || ev.MediaURLs != nil {
					t.Errorf("Media = %v, %v; want none for an unresolved attachment", ev.Media, ev.MediaURLs)
				}
			},
		},
		{
			name: "MentionableRoleAndMalformedResolved",
			body: `{` + guildEnv + `,"type":2,"data":{"name":"ping","options":[{"name":"who","type":9,"value":"r1"},{"name":"ch","type":7,"value":"c9"}],` +
				`"resolved":{"users":[],"roles":{"r1":{"name":"mods"}},"channels":{"c9":"broken"}}}}`,
			check: func(t *testing.T, ev events.MessageEvent) {
				want := []events.CommandOption{{Name: "who", Type: "mentionable", Value: "r1", Display: "@mods"}, {Name: "ch", Type: "channel", Value: "c9"}}
				if diff := cmp.Diff(want, ev.Interaction.Command.Options); diff != "" {
					t.Errorf("Options mismatch (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "UnknownOptionAndCommandType",
			body: `{` + guildEnv + `,"type":2,"data":{"name":"x","type":9,"options":[{"name":"o","type":42,"value":"v"}]}}`,
			check: func(t *testing.T, ev events.MessageEvent) {
				want := &events.Command{Name: "x", Type: "", Path: []string{"x"}, Options: []events.CommandOption{{Name: "o", Type: "", Value: "v"}}}
				if diff := cmp.Diff(want, ev.Interaction.Command); diff != "" {
					t.Errorf("Command mismatch (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "UserTargetWithoutResolved",
			body: `{` + guildEnv + `,"type":2,"data":{"name":"Inspect","type":2,"target_id":"u7"}}`,
			check: func(t *testing.T, ev events.MessageEvent) {
				want := &events.CommandTarget{Kind: "user", ID: "u7"}
				if diff := cmp.Diff(want, ev.Interaction.Command.Target); diff != "" {
					t.Errorf("Target mismatch (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "ChannelIDFromChannelObject",
			body: `{"id":"5","type":3,"channel":{"id":"c2","type":1},"user":{"id":"u2","username":"solo","bot":true},"data":{"custom_id":"go","component_type":2}}`,
			check: func(t *testing.T, ev events.MessageEvent) {
				want := events.SessionSource{Platform: "discord", ChatID: "c2", ChatType: "dm", UserID: "u2", UserName: "solo", IsBot: true}
				if diff := cmp.Diff(want, ev.Source); diff != "" {
					t.Errorf("Source mismatch (-want +got):\n%s", diff)
				}
				if ev.SessionKey != "agent:main:discord:dm:c2" {
					t.Errorf("SessionKey = %q", ev.SessionKey)
				}
				if ev.Interaction.Context != "bot_dm" {
					t.Errorf("Context = %q, want bot_dm (inferred: no guild)", ev.Interaction.Context)
				}
				if ev.Timestamp != "2015-01-01T00:00:00.000Z" {
					t.Errorf("Timestamp = %q, want the Discord epoch", ev.Timestamp)
				}
			},
		},
		{
			name: "ThreadInAGuildWithoutChannelType",
			body: `{` + guildEnv + `,"type":2,"channel":{"id":"c1","name":"n"},"data":{"name":"x"}}`,
			check: func(t *testing.T, ev events.MessageEvent) {
				if ev.Source.ChatType != "group" || ev.Source.ThreadID != "" {
					t.Errorf("chat type, thread = %q, %q; want group, none", ev.Source.ChatType, ev.Source.ThreadID)
				}
			},
		},
		{
			name: "DMThreadStaysDM",
			body: `{"id":"6","type":2,"channel":{"id":"t1","type":11,"parent_id":"p"},"user":{"id":"u"},"data":{"name":"x"}}`,
			check: func(t *testing.T, ev events.MessageEvent) {
				if ev.Source.ChatType != "dm" || ev.Source.ThreadID != "" || ev.Source.ParentChatID != "" {
					t.Errorf("source = %+v, want a plain dm", ev.Source)
				}
			},
		},
		{
			name: "NickWinsOverGlobalName",
			body: `{"id":"7","type":2,"guild_id":"g","channel_id":"c","member":{"nick":"Nick","user":{"id":"u","username":"un","global_name":"GN"}},"user":{"id":"other"},"data":{"name":"x"}}`,
			check: func(t *testing.T, ev events.MessageEvent) {
				if ev.Source.UserID != "u" || ev.Source.UserName != "Nick" {
					t.Errorf("user = %q %q, want u Nick (member.user wins over user)", ev.Source.UserID, ev.Source.UserName)
				}
			},
		},
		{
			name: "ContextAndOwners",
			body: `{` + guildEnv + `,"type":2,"context":7,"authorizing_integration_owners":{"0":1302373407916968278,"1":"u1","2":null,"3":true},"data":{"name":"x"}}`,
			check: func(t *testing.T, ev events.MessageEvent) {
				if ev.Interaction.Context != "" {
					t.Errorf("Context = %q, want empty for an unknown context", ev.Interaction.Context)
				}
				want := map[string]string{"0": "1302373407916968278", "1": "u1"}
				if diff := cmp.Diff(want, ev.Interaction.AuthorizingIntegrationOwners); diff != "" {
					t.Errorf("owners mismatch (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "UnknownKeysAndNonSnowflakeID",
			body: `{"id":"not-a-snowflake","type":2,"channel_id":"c","brand_new_field":{"a":[1,2,3]},"data":{"name":"x","future":true}}`,
			check: func(t *testing.T, ev events.MessageEvent) {
				wantText("/x", "command")(t, ev)
				if ev.Timestamp != "" || ev.MessageID != "not-a-snowflake" {
					t.Errorf("timestamp, id = %q, %q; want none, the id", ev.Timestamp, ev.MessageID)
				}
			},
		},
		{
			name: "PromptInvalidForms",
			body: `{` + guildEnv + `,"type":3,"data":{"custom_id":"hp1:a:b:c","component_type":2},"message":{"id":"m"}}`,
			check: func(t *testing.T, ev events.MessageEvent) {
				wantText("hp1:a:b:c", "text")(t, ev)
				if ev.PromptResponse != nil {
					t.Errorf("PromptResponse = %+v, want none", ev.PromptResponse)
				}
			},
		},
		{
			name: "PromptWithoutMessage",
			body: `{` + guildEnv + `,"type":3,"data":{"custom_id":"hp1:p.1:opt_2-x","component_type":2}}`,
			check: func(t *testing.T, ev events.MessageEvent) {
				wantText("/opt_2-x", "command")(t, ev)
				want := &events.PromptResponse{PromptID: "p.1", OptionID: "opt_2-x"}
				if diff := cmp.Diff(want, ev.PromptResponse); diff != "" {
					t.Errorf("PromptResponse mismatch (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "StringSelectUnknownValueKeepsValue",
			body: `{` + guildEnv + `,"type":3,"data":{"custom_id":"s","component_type":3,"values":["a","zz"]},` +
				`"message":{"id":"m","components":[{"type":1,"components":[{"type":3,"custom_id":"s","placeholder":"Pick","options":[{"label":"Alpha","value":"a"}]}]}]}}`,
			check: func(t *testing.T, ev events.MessageEvent) {
				want := &events.Component{CustomID: "s", Type: "string_select", Label: "Pick", Values: []string{"a", "zz"}, ValueLabels: []string{"Alpha", "zz"}}
				if diff := cmp.Diff(want, ev.Interaction.Component); diff != "" {
					t.Errorf("Component mismatch (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "ComponentOnMalformedMessage",
			body: `{` + guildEnv + `,"type":3,"data":{"custom_id":"b","component_type":99},"message":{"id":"m","components":{"not":"an array"}}}`,
			check: func(t *testing.T, ev events.MessageEvent) {
				want := &events.Component{CustomID: "b"}
				if diff := cmp.Diff(want, ev.Interaction.Component); diff != "" {
					t.Errorf("Component mismatch (-want +got):\n%s", diff)
				}
				if ev.Source.MessageID != "m" {
					t.Errorf("source message id = %q, want m", ev.Source.MessageID)
				}
			},
		},
		{
			name: "ModalUnknownComponentsAndOddValues",
			body: `{` + guildEnv + `,"type":5,"data":{"custom_id":"m","components":[` +
				`{"type":99,"id":1,"components":[{"type":4,"custom_id":"deep","value":"v"}]},` +
				`{"type":10,"id":2,"content":"display only"},` +
				`{"type":18,"component":{"type":3,"custom_id":"s","values":[]}},` +
				`{"type":18,"component":{"type":23,"custom_id":"cb","value":"true"}},` +
				`{"type":18,"component":{"type":77,"custom_id":"future","value":12}},` +
				`{"type":18,"component":{"type":77,"custom_id":"inert"}},` +
				`{"type":1,"components":"garbage"}]}}`,
			check: func(t *testing.T, ev events.MessageEvent) {
				wantText("deep=v\ns=\ncb=true\nfuture=12", "text")(t, ev)
				want := []events.ModalField{
					{CustomID: "deep", Type: "text_input", Value: "v"},
					{CustomID: "s", Type: "string_select", Value: ""},
					{CustomID: "cb", Type: "checkbox", Value: "true"},
					{CustomID: "future", Type: "", Value: "12"},
				}
				if diff := cmp.Diff(want, ev.Interaction.Modal.Fields); diff != "" {
					t.Errorf("Fields mismatch (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "ModalComponentsNotAnArray",
			body: `{` + guildEnv + `,"type":5,"data":{"custom_id":"m","components":{"type":1}}}`,
			check: func(t *testing.T, ev events.MessageEvent) {
				wantText("", "text")(t, ev)
				if diff := cmp.Diff(&events.Modal{CustomID: "m"}, ev.Interaction.Modal); diff != "" {
					t.Errorf("Modal mismatch (-want +got):\n%s", diff)
				}
			},
		},
		{
			name:  "TokenInAnyCaseIsIgnored",
			body:  `{"Token":"t1","TOKEN":"t2","token":"t3","id":"8","type":2,"channel_id":"c","data":{"name":"x"}}`,
			check: wantText("/x", "command"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, convertOne(t, tt.body))
		})
	}
}

func wantText(text, messageType string) func(*testing.T, events.MessageEvent) {
	return func(t *testing.T, ev events.MessageEvent) {
		t.Helper()
		if ev.Text != text || ev.MessageType != messageType {
			t.Errorf("text, type = %q, %q; want %q, %q", ev.Text, ev.MessageType, text, messageType)
		}
	}
}

func BenchmarkConvert(b *testing.B) {
	for _, name := range []string{"02_slash_command_options.json", "08_button_click.json", "11_modal_submit.json"} {
		body := readFixture(b, name)
		b.Run(strings.TrimSuffix(name, ".json"), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := discord.Convert(body, testForward); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
