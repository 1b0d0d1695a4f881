package wsedge_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/relaybus/relaybus/services/ws-edge/wsedge"
)

// TestConfigLogValue: the startup line shows every variable under its name,
// as it would be set, and never the secret.
func TestConfigLogValue(t *testing.T) {
	c := wsedge.DefaultConfig()
	c.RelayURL, c.RelaySecret, c.Platforms = "https://c.example", "hunter2-very-secret", []string{"discord", "telegram"}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("startup", "config", c)
	line := b.String()
	for _, want := range []string{
		"config.GATEWAY_RELAY_URL=https://c.example ", "config.GATEWAY_RELAY_SECRET=[redacted] ",
		"config.GATEWAY_RELAY_PLATFORMS=discord,telegram ", "config.WSEDGE_MAX_FRAME_BYTES=4194304 ",
		"config.WSEDGE_PUBLISH_TIMEOUT=10s ", "config.RELAY_DUPLICATE_WINDOW=1h ", "config.RELAY_STREAM_STORAGE=file",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("startup line lacks %q:\n%s", want, line)
		}
	}
	if strings.Contains(line, "hunter2") {
		t.Errorf("startup line leaks the secret:\n%s", line)
	}
}
