package envconf

import (
	"encoding/json"
	"strings"

	"github.com/relaybus/relaybus/pkg/events"
)

// Identities declares GATEWAY_RELAY_PLATFORMS and GATEWAY_RELAY_BOT_IDS for
// the stages that keep them as one events.Identities (egress, the
// converter; ws-edge keeps the two strings as given). When the platforms
// are set, *dst is events.ParseIdentities of the two; otherwise it keeps
// nil and the bot ids are ignored. Bad bot-id JSON means no bot ids
// (contract §2); ws-edge, which reads the same variables, warns about it.
// Parse must read the two in the order returned.
func Identities(dst *events.Identities, platformsDoc, botIDsDoc string) []Var {
	var platforms string // as set, for the bot ids read next
	return []Var{
		Func("GATEWAY_RELAY_PLATFORMS", dst, nil, platformsDoc, func(s string) (events.Identities, error) {
			platforms = s
			ids, _ := events.ParseIdentities(s, "")
			return ids, nil
		}, func(ids events.Identities) string {
			names := make([]string, len(ids))
			for i, id := range ids {
				names[i] = id.Platform
			}
			return strings.Join(names, ",")
		}),
		Func("GATEWAY_RELAY_BOT_IDS", dst, nil, botIDsDoc, func(s string) (events.Identities, error) {
			if platforms == "" {
				return *dst, nil
			}
			ids, _ := events.ParseIdentities(platforms, s)
			return ids, nil
		}, func(ids events.Identities) string {
			bots := map[string]map[string]string{}
			for _, id := range ids {
				if id.BotID != "" {
					bots[id.Platform] = map[string]string{"botId": id.BotID}
				}
			}
			if len(bots) == 0 {
				return ""
			}
			b, _ := json.Marshal(bots) // a map of strings: cannot fail
			return string(b)
		}),
	}
}
