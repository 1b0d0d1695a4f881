package converter_test

import (
	"testing"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/services/passthrough-converter/converter"
)

// TestScopeRecordsIdentity: a chat's scope record names the identity its
// traffic came in on, so that egress can reply under it (contract §6): the
// forward's bot for a passthrough, the configured bot of the event's
// platform for an inbound.
func TestScopeRecordsIdentity(t *testing.T) {
	e := newEnv(t)
	cfg := converter.DefaultConfig()
	cfg.Identities = events.Identities{{Platform: "discord", BotID: "dc-config"}, {Platform: "telegram", BotID: "tg-config"}}
	e.run(t, cfg, natstest.Logger(t))

	body, _ := fixture(t, "02_slash_command_options.json")
	e.publishRaw(t, forwardFrame("discord", body, "f1"), "f1")
	e.publishRaw(t, []byte(`{"type":"inbound","bufferId":"i1","event":{"text":"hi","source":{"platform":"telegram","chat_id":"t-1","chat_type":"dm","user_id":"u"}}}`), "i1")
	got := e.readInbound(t, 2)
	for _, r := range got {
		src := r.event.Source
		sc, _, err := e.scope(t, src.Platform, src.ChatID)
		if err != nil {
			t.Fatalf("scope of %s/%s: %v", src.Platform, src.ChatID, err)
		}
		want := map[string]string{"discord": "bot1", "telegram": "tg-config"}[src.Platform]
		if sc.BotID != want || sc.Platform != src.Platform {
			t.Errorf("scope of %s/%s = %+v, want platform %s bot %q", src.Platform, src.ChatID, sc, src.Platform, want)
		}
	}
}
