package wire_test

import (
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/relaybus/relaybus/pkg/wire"
)

func platformForward(platform, body string) string {
	return fmt.Sprintf(`{"type":"passthrough_forward","bufferId":"b1","forward":{"platform":%q,"botId":"42","method":"POST","path":"/interactions/%s/42","headers":[["content-type","application/json"]],"bodyB64":%q}}`,
		platform, platform, base64.StdEncoding.EncodeToString([]byte(body)))
}

func TestChatKey(t *testing.T) {
	tests := []struct {
		name, typ, frame, want string
	}{
		{"inbound", "inbound", `{"type":"inbound","bufferId":"b","event":{"text":"hi","source":{"platform":"telegram","chat_id":"-100123","user_id":"7"}}}`, "telegram:-100123"},
		{"inbound, keys in another order", "inbound", `{"event":{"source":{"chat_id":"C1","platform":"slack"}},"type":"inbound"}`, "slack:C1"},
		{"inbound without chat", "inbound", `{"type":"inbound","event":{"source":{"platform":"slack"}}}`, "type:inbound"},
		{"inbound, not JSON", "inbound", `{"type":"inbound",`, "type:inbound"},
		{"discord interaction", "passthrough_forward", platformForward("discord", `{"type":2,"token":"t","channel_id":"645027906669510667","data":{"name":"ask"}}`), "discord:645027906669510667"},
		{"discord interaction, channel object only", "passthrough_forward", platformForward("discord", `{"type":3,"channel":{"id":"99","type":1}}`), "discord:99"},
		{"discord ping", "passthrough_forward", platformForward("discord", `{"type":1}`), "forward:discord"},
		{"twilio", "passthrough_forward", platformForward("twilio", `From=%2B15551234567&To=%2B15557654321&Body=hi`), "twilio:+15551234567"},
		{"other platform", "passthrough_forward", platformForward("line", `{}`), "forward:line"},
		{"bad base64", "passthrough_forward", `{"type":"passthrough_forward","forward":{"platform":"discord","bodyB64":"%%%"}}`, "forward:discord"},
		{"interrupt with chat", "interrupt_inbound", `{"type":"interrupt_inbound","session_key":"agent:main:discord:group:55","chat_id":"55"}`, "discord:55"},
		{"interrupt, chat from the session", "interrupt_inbound", `{"type":"interrupt_inbound","session_key":"agent:main:telegram:dm:8:extra"}`, "telegram:8"},
		{"interrupt, no session", "interrupt_inbound", `{"type":"interrupt_inbound","chat_id":"9"}`, "relay:9"},
		{"unknown type", "future_thing", `{"type":"future_thing","x":1}`, "type:future_thing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := wire.ChatKey(tt.typ, []byte(tt.frame)); got != tt.want {
				t.Errorf("ChatKey = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestChatKeyAgreesAcrossTypes: a chat's messages and its interactions
// share a key (so they share an order).
func TestChatKeyAgreesAcrossTypes(t *testing.T) {
	msg := wire.ChatKey("inbound", []byte(`{"type":"inbound","event":{"source":{"platform":"discord","chat_id":"645027906669510667"}}}`))
	ia := wire.ChatKey("passthrough_forward", []byte(platformForward("discord", `{"type":2,"channel_id":"645027906669510667"}`)))
	stop := wire.ChatKey("interrupt_inbound", []byte(`{"type":"interrupt_inbound","session_key":"agent:main:discord:group:645027906669510667"}`))
	if msg != ia || ia != stop {
		t.Errorf("keys of one chat differ: message %q, interaction %q, interrupt %q", msg, ia, stop)
	}
}

// BenchmarkChatKey: the cost ws-edge adds per frame to name its chat.
func BenchmarkChatKey(b *testing.B) {
	body := `{"app_permissions":"2248473465835073","application_id":"1302373296520147036","authorizing_integration_owners":{"0":"1155914893519671347"},"channel":{"flags":0,"guild_id":"1155914893519671347","id":"645027906669510667","last_message_id":"1302719939373314118","name":"general","nsfw":false,"parent_id":null,"permissions":"2251799813685247","position":0,"rate_limit_per_user":0,"topic":null,"type":0},"channel_id":"645027906669510667","context":0,"data":{"id":"1302375098552619019","name":"ask","options":[{"name":"question","type":3,"value":"what is the weather like today in the city where I live and work?"}],"type":1},"entitlement_sku_ids":[],"entitlements":[],"guild":{"features":[],"id":"1155914893519671347","locale":"en-US"},"guild_id":"1155914893519671347","guild_locale":"en-US","id":"1302719939373314119","locale":"en-US","member":{"avatar":null,"communication_disabled_until":null,"deaf":false,"flags":0,"joined_at":"2023-09-24T17:33:24.119000+00:00","mute":false,"nick":null,"pending":false,"permissions":"2251799813685247","premium_since":null,"roles":[],"unusual_dm_activity_until":null,"user":{"avatar":"a1b2c3","avatar_decoration_data":null,"clan":null,"discriminator":"0","global_name":"Someone","id":"1155914711960829952","public_flags":0,"username":"someone"}},"type":2,"version":1}`
	frames := map[string][]byte{
		"inbound":             []byte(`{"type":"inbound","bufferId":"b-1","event":{"text":"hello there","message_type":"text","source":{"platform":"telegram","chat_id":"-1001234567890","chat_type":"group","user_id":"42","user_name":"someone"},"message_id":"77","session_key":"agent:main:telegram:group:-1001234567890"}}`),
		"passthrough_forward": []byte(platformForward("discord", body)),
	}
	for typ, f := range frames {
		b.Run(typ, func(b *testing.B) {
			b.SetBytes(int64(len(f)))
			b.ReportAllocs()
			for b.Loop() {
				if wire.ChatKey(typ, f) == "" {
					b.Fatal("no key")
				}
			}
		})
	}
}

// FuzzChatKey: any bytes yield a key (never a panic), and a frame whose
// chat cannot be read gets its type's fallback.
func FuzzChatKey(f *testing.F) {
	f.Add("inbound", `{"type":"inbound","event":{"source":{"platform":"telegram","chat_id":"1"}}}`)
	f.Add("passthrough_forward", platformForward("discord", `{"channel_id":"5"}`))
	f.Add("passthrough_forward", platformForward("twilio", `From=%zz`))
	f.Add("interrupt_inbound", `{"session_key":"agent::::"}`)
	f.Add("inbound", `{"event":{"source":{"platform":"\ud800","chat_id":"\u0000"}}}`)
	f.Fuzz(func(t *testing.T, typ, frame string) {
		if wire.ChatKey(typ, []byte(frame)) == "" {
			t.Fatal("empty key")
		}
	})
}
