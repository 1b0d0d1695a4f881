package events_test

import (
	"testing"

	"github.com/relaybus/relaybus/pkg/events"
)

func TestParseIdentities(t *testing.T) {
	ids, err := events.ParseIdentities(" discord, telegram ,,slack", `{"discord":{"botId":"123"},"telegram":{"botId":9007199254740993},"slack":"S1"}`)
	if err != nil {
		t.Fatal(err)
	}
	want := events.Identities{{Platform: "discord", BotID: "123"}, {Platform: "telegram", BotID: "9007199254740993"}, {Platform: "slack", BotID: "S1"}}
	if len(ids) != len(want) {
		t.Fatalf("ParseIdentities = %+v, want %+v", ids, want)
	}
	for i := range want {
		if ids[i] != want[i] {
			t.Errorf("identity %d = %+v, want %+v", i, ids[i], want[i])
		}
	}
	if !ids.Multi() || ids.Primary() != "discord" || ids.BotID("telegram") != "9007199254740993" || ids.BotID("x") != "" || !ids.Has("slack") || ids.Has("x") {
		t.Errorf("accessors wrong on %+v", ids)
	}
	none, err := events.ParseIdentities("", "not json")
	if err == nil || len(none) != 1 || none[0] != (events.Identity{Platform: events.PlatformRelay}) || none.Multi() {
		t.Errorf("ParseIdentities(\"\", bad) = %+v, %v; want the relay identity and an error", none, err)
	}
}
