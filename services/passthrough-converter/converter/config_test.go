package converter_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/relaybus/relaybus/internal/envconf/envconftest"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/services/passthrough-converter/converter"
)

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name   string
		env    map[string]string
		want   func(c *converter.Config)
		wantIn string // an error naming this
	}{
		{name: "Defaults", want: func(*converter.Config) {}},
		{
			name: "AllSet",
			env: map[string]string{
				"CONVERTER_DURABLE": "conv-b", "CONVERTER_WORKERS": "8", "CONVERTER_MAX_DELIVER": "3",
				"CONVERTER_ACK_WAIT": "30s", "CONVERTER_SCOPE_CACHE": "10", "CONVERTER_SHUTDOWN_TIMEOUT": "2s",
				"CONVERTER_HTTP_ADDR": ":9", "GATEWAY_RELAY_PLATFORMS": "discord, telegram",
				"GATEWAY_RELAY_BOT_IDS": `{"discord":{"botId":"12"}}`, "RELAY_DUPLICATE_WINDOW": "2h",
			},
			want: func(c *converter.Config) {
				c.Durable, c.Workers, c.MaxDeliver, c.AckWait = "conv-b", 8, 3, 30*time.Second
				c.ScopeCacheSize, c.ShutdownTimeout, c.HTTPAddr, c.Bus.DuplicateWindow = 10, 2*time.Second, ":9", 2*time.Hour
				c.Identities = events.Identities{{Platform: "discord", BotID: "12"}, {Platform: "telegram"}}
			},
		},
		{name: "ErrWorkers", env: map[string]string{"CONVERTER_WORKERS": "many"}, wantIn: "CONVERTER_WORKERS"},
		{name: "ErrWorkersRange", env: map[string]string{"CONVERTER_WORKERS": "5000"}, wantIn: "CONVERTER_WORKERS"},
		{name: "ErrMaxDeliver", env: map[string]string{"CONVERTER_MAX_DELIVER": "0"}, wantIn: "CONVERTER_MAX_DELIVER"},
		{name: "ErrAckWait", env: map[string]string{"CONVERTER_ACK_WAIT": "10ms"}, wantIn: "CONVERTER_ACK_WAIT"},
		{name: "ErrScopeCache", env: map[string]string{"CONVERTER_SCOPE_CACHE": "0"}, wantIn: "CONVERTER_SCOPE_CACHE"},
		{name: "ErrShutdown", env: map[string]string{"CONVERTER_SHUTDOWN_TIMEOUT": "0s"}, wantIn: "CONVERTER_SHUTDOWN_TIMEOUT"},
		{name: "ErrBus", env: map[string]string{"RELAY_STREAM_REPLICAS": "x"}, wantIn: "RELAY_STREAM_REPLICAS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := converter.ConfigFromEnv(func(k string) string { return tt.env[k] })
			if tt.wantIn != "" {
				envconftest.WantInvalid(t, err, converter.ErrInvalidConfig, tt.wantIn)
				return
			}
			if err != nil {
				t.Fatalf("ConfigFromEnv = %v", err)
			}
			want := converter.DefaultConfig()
			tt.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateDurable(t *testing.T) {
	c := converter.DefaultConfig()
	c.Durable = ""
	if err := c.Validate(); !errors.Is(err, converter.ErrInvalidConfig) || !strings.Contains(err.Error(), "CONVERTER_DURABLE") {
		t.Errorf("Validate(no durable) = %v, want an error naming CONVERTER_DURABLE", err)
	}
}

// TestConfigLogValue: the startup line shows every variable under its name,
// as it would be set.
func TestConfigLogValue(t *testing.T) {
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("startup", "config", converter.DefaultConfig())
	for _, want := range []string{
		"config.CONVERTER_DURABLE=passthrough-converter ", "config.CONVERTER_WORKERS=64 ", "config.CONVERTER_ACK_WAIT=5s ",
		"config.CONVERTER_SCOPE_CACHE=100000 ", `config.GATEWAY_RELAY_PLATFORMS="" `, "config.RELAY_STREAM_REPLICAS=1 ",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("startup line lacks %s:\n%s", want, b.String())
		}
	}
}
