package devconnector_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/relaybus/relaybus/internal/devconnector"
)

func descriptorWant(platform, label string, maxLen int, edit, threads bool, dialect, unit string, ops ...any) map[string]any {
	if ops == nil {
		ops = []any{"send", "edit", "typing", "follow_up", "get_chat_info", "delete", "react"}
	}
	return map[string]any{
		"contract_version":          1.0,
		"platform":                  platform,
		"label":                     label,
		"max_message_length":        float64(maxLen),
		"supports_draft_streaming":  false,
		"supports_edit":             edit,
		"supports_threads":          threads,
		"markdown_dialect":          dialect,
		"len_unit":                  unit,
		"emoji":                     "🔌",
		"platform_hint":             "",
		"pii_safe":                  false,
		"supports_context":          false,
		"supports_block_formatting": false,
		"supported_ops":             ops,
	}
}

func TestDescriptor(t *testing.T) {
	platforms := map[string]devconnector.PlatformSettings{
		"custom": {Label: "Custom Chat", MaxMessageLength: 500, LenUnit: "utf16", MarkdownDialect: "slack", SupportedOps: []string{"send"}, SupportsThreads: true},
		"legacy": {SupportedOps: []string{}, SupportsEdit: true},
	}
	tests := []struct {
		name     string
		platform string
		want     map[string]any
	}{
		{"Discord", "discord", descriptorWant("discord", "Discord", 2000, true, true, "discord", "chars")},
		{"Telegram", "telegram", descriptorWant("telegram", "Telegram", 4096, true, false, "markdown_v2", "utf16")},
		{"Slack", "slack", descriptorWant("slack", "Slack", 4096, true, true, "slack", "chars")},
		{"Whatsapp", "whatsapp", descriptorWant("whatsapp", "Whatsapp", 4096, true, false, "plain", "chars")},
		{"NoPlatform", "", descriptorWant("relay", "Relay", 4096, true, false, "plain", "chars")},
		{"Configured", "custom", descriptorWant("custom", "Custom Chat", 500, false, true, "slack", "utf16", "send")},
		{"EmptyOpsIsLegacy", "legacy", descriptorWant("legacy", "Legacy", 4096, true, false, "plain", "chars", []any{}...)},
	}
	tests[len(tests)-1].want["supported_ops"] = []any{}
	s := newServer(t, devconnector.Config{Platforms: platforms})
	g := dial(t, s, "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := g.hello(tt.platform, "bot")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("descriptor mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
