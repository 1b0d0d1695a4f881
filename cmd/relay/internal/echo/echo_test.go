package echo_test

import (
	"testing"

	"github.com/relaybus/relaybus/cmd/relay/internal/echo"
	"github.com/relaybus/relaybus/pkg/events"
)

func TestAnswer(t *testing.T) {
	tests := []struct {
		name string
		ev   events.MessageEvent
		want string
	}{
		{"Text", events.MessageEvent{Text: "hi"}, "echo: hi"},
		{"Empty", events.MessageEvent{}, "echo: (no text)"},
		{"Command", events.MessageEvent{Text: "/config set model x", Interaction: &events.Interaction{Command: &events.Command{
			Path: []string{"config", "set"}, Options: []events.CommandOption{{Name: "key", Type: "string", Value: "model"}, {Name: "user", Type: "user", Value: "42", Display: "@Bob"}},
		}}}, "/config set\n- key (string): model\n- user (user): @Bob"},
		{"CommandNoOptions", events.MessageEvent{Interaction: &events.Interaction{Command: &events.Command{Path: []string{"new"}}}}, "/new (no options)"},
		{"Select", events.MessageEvent{Interaction: &events.Interaction{Component: &events.Component{
			CustomID: "class", Type: "string_select", Label: "Choose a class", Values: []string{"mage", "rogue"}, ValueLabels: []string{"Mage", "Rogue"},
		}}}, `you used string_select "Choose a class": Mage, Rogue`},
		{"Modal", events.MessageEvent{Interaction: &events.Interaction{Modal: &events.Modal{CustomID: "bug", Fields: []events.ModalField{{CustomID: "a", Value: "x"}, {CustomID: "b", Values: []string{"1", "2"}}}}}}, "form bug:\n- a: x\n- b: 1, 2"},
		{"Prompt", events.MessageEvent{PromptResponse: &events.PromptResponse{PromptID: "p1", OptionID: "yes"}}, `you chose "yes" on prompt "p1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := echo.Answer(&tt.ev); got != tt.want {
				t.Errorf("Answer() = %q, want %q", got, tt.want)
			}
		})
	}
}
