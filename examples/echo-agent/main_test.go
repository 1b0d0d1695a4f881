package main

import (
	"testing"

	"github.com/relaybus/relaybus/pkg/events"
)

func TestAnswer(t *testing.T) {
	tests := map[string]struct {
		ev   events.MessageEvent
		want string
	}{
		"Text":      {events.MessageEvent{Text: "hi"}, "echo: hi"},
		"Command":   {events.MessageEvent{Interaction: &events.Interaction{Command: &events.Command{Path: []string{"config", "set"}}}}, "you ran /config set"},
		"Component": {events.MessageEvent{Interaction: &events.Interaction{Component: &events.Component{Type: "button", CustomID: "ok"}}}, `you used button "ok"`},
		"Modal":     {events.MessageEvent{Interaction: &events.Interaction{Modal: &events.Modal{CustomID: "bug", Fields: []events.ModalField{{CustomID: "a"}}}}}, "you submitted bug with 1 fields"},
	}
	for name, tt := range tests {
		if got := answer(&tt.ev); got != tt.want {
			t.Errorf("%s: answer = %q, want %q", name, got, tt.want)
		}
	}
}
