package events

import (
	"encoding/json"
	"errors"
	"strings"
)

// Identity is one bot identity the gateway fronts: the platform and the
// bot id of one hello frame (contract §2 "Identities").
type Identity struct {
	Platform string
	BotID    string
}

// Identities are the fronted identities in configured order; the first is
// the primary one.
type Identities []Identity

// ParseIdentities reads GATEWAY_RELAY_PLATFORMS (a comma list, order kept,
// empty entries skipped) and GATEWAY_RELAY_BOT_IDS (a JSON map like
// {"discord":{"botId":"123"}}; a bare string or number value is accepted
// too, numbers kept digit for digit). With no platform the one identity is
// "relay". Bad bot-id JSON means no bot ids, as the contract says; the
// error reports it so the caller can warn once.
func ParseIdentities(platforms, botIDs string) (Identities, error) {
	bots, err := parseBotIDs(botIDs)
	var out Identities
	for p := range strings.SplitSeq(platforms, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, Identity{Platform: p, BotID: bots[p]})
		}
	}
	if len(out) == 0 {
		out = Identities{{Platform: PlatformRelay, BotID: bots[PlatformRelay]}}
	}
	return out, err
}

func parseBotIDs(s string) (map[string]string, error) {
	bots := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return bots, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return bots, errors.New("GATEWAY_RELAY_BOT_IDS is not a JSON object; using no bot ids: " + err.Error())
	}
	for p, v := range raw {
		var entry struct {
			BotID json.RawMessage `json:"botId"`
		}
		if json.Unmarshal(v, &entry) == nil && entry.BotID != nil {
			v = entry.BotID
		}
		var str string
		var num json.Number
		switch {
		case json.Unmarshal(v, &str) == nil:
			bots[p] = str
		case json.Unmarshal(v, &num) == nil:
			bots[p] = num.String() // Discord ids exceed float64 precision
		}
	}
	return bots, nil
}

// Primary is the first identity's platform ("" for no identities).
func (ids Identities) Primary() string {
	if len(ids) == 0 {
		return ""
	}
	return ids[0].Platform
}

// Multi reports whether more than one identity is configured: only then
// must an outbound frame name its identity (contract §6).
func (ids Identities) Multi() bool { return len(ids) > 1 }

// BotID returns the configured bot id of platform ("" when none).
func (ids Identities) BotID(platform string) string {
	for _, id := range ids {
		if id.Platform == platform {
			return id.BotID
		}
	}
	return ""
}

// Has reports whether platform is one of the configured identities.
func (ids Identities) Has(platform string) bool {
	for _, id := range ids {
		if id.Platform == platform {
			return true
		}
	}
	return false
}
