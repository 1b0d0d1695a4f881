package egress_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/relaybus/relaybus/internal/envconf/envconftest"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/services/egress/egress"
)

func TestConfigFromEnv(t *testing.T) {
	def := egress.DefaultConfig()
	tests := []struct {
		name    string
		env     map[string]string
		want    func(c *egress.Config)
		wantErr error
		wantIn  string // the error names this
	}{
		{name: "Defaults", env: nil, want: func(*egress.Config) {}},
		{
			name: "AllSet",
			env: map[string]string{
				"EGRESS_HTTP_ADDR": "127.0.0.1:9000", "EGRESS_WORKERS": "8", "EGRESS_ACTION_DEADLINE": "2m",
				"EGRESS_EDGE_TIMEOUT": "40s", "EGRESS_ACK_WAIT": "1m", "EGRESS_RETRY_BASE": "1s", "EGRESS_RETRY_MAX": "1m",
				"EGRESS_SHUTDOWN_TIMEOUT": "3s", "GATEWAY_RELAY_PLATFORMS": " , telegram,discord", "RELAY_STREAM_REPLICAS": "3",
				"GATEWAY_RELAY_BOT_IDS": `{"telegram":{"botId":"77"},"discord":{"botId":"12"}}`,
			},
			want: func(c *egress.Config) {
				c.HTTPAddr, c.Workers, c.ActionDeadline = "127.0.0.1:9000", 8, 2*time.Minute
				c.EdgeTimeout, c.AckWait, c.RetryBase, c.RetryMax = 40*time.Second, time.Minute, time.Second, time.Minute
				c.ShutdownTimeout, c.PrimaryPlatform, c.Bus.Replicas = 3*time.Second, "telegram", 3
				c.Identities = events.Identities{{Platform: "telegram", BotID: "77"}, {Platform: "discord", BotID: "12"}}
			},
		},
		{name: "ErrWorkersNotNumber", env: map[string]string{"EGRESS_WORKERS": "many"}, wantErr: egress.ErrInvalidConfig, wantIn: "EGRESS_WORKERS"},
		{name: "ErrWorkersZero", env: map[string]string{"EGRESS_WORKERS": "0"}, wantErr: egress.ErrInvalidConfig, wantIn: "EGRESS_WORKERS"},
		{name: "ErrDeadline", env: map[string]string{"EGRESS_ACTION_DEADLINE": "soon"}, wantErr: egress.ErrInvalidConfig, wantIn: "EGRESS_ACTION_DEADLINE"},
		{name: "ErrDeadlineShort", env: map[string]string{"EGRESS_ACTION_DEADLINE": "10ms"}, wantErr: egress.ErrInvalidConfig, wantIn: "EGRESS_ACTION_DEADLINE"},
		{name: "ErrEdgeTimeout", env: map[string]string{"EGRESS_EDGE_TIMEOUT": "0s"}, wantErr: egress.ErrInvalidConfig, wantIn: "EGRESS_EDGE_TIMEOUT"},
		{name: "ErrRetryMax", env: map[string]string{"EGRESS_RETRY_BASE": "2s", "EGRESS_RETRY_MAX": "1s"}, wantErr: egress.ErrInvalidConfig, wantIn: "EGRESS_RETRY_MAX"},
		{name: "ErrHTTPAddr", env: map[string]string{"EGRESS_HTTP_ADDR": "8083"}, wantErr: egress.ErrInvalidConfig, wantIn: "EGRESS_HTTP_ADDR"},
		{name: "ErrBus", env: map[string]string{"RELAY_STREAM_REPLICAS": "x"}, wantErr: egress.ErrInvalidConfig, wantIn: "RELAY_STREAM_REPLICAS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := egress.ConfigFromEnv(func(k string) string { return tt.env[k] })
			if tt.wantErr != nil {
				envconftest.WantInvalid(t, err, tt.wantErr, tt.wantIn)
				return
			}
			if err != nil {
				t.Fatalf("ConfigFromEnv = %v", err)
			}
			want := def
			tt.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

// TestConfigLogValue: the startup line shows every variable under its name,
// as it would be set.
func TestConfigLogValue(t *testing.T) {
	c := egress.DefaultConfig()
	c.Identities = events.Identities{{Platform: "telegram", BotID: "77"}, {Platform: "discord"}}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("startup", "config", c)
	for _, want := range []string{
		"config.EGRESS_WORKERS=64 ", "config.EGRESS_ACTION_DEADLINE=15m ", "config.EGRESS_RETRY_BASE=250ms ",
		"config.GATEWAY_RELAY_PLATFORMS=telegram,discord ", `config.GATEWAY_RELAY_BOT_IDS="{\"telegram\":{\"botId\":\"77\"}}" `,
		"config.RELAY_STREAM_REPLICAS=1 ",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("startup line lacks %s:\n%s", want, b.String())
		}
	}
}

func TestValidateVersion(t *testing.T) {
	c := egress.DefaultConfig()
	c.Version = "dev"
	if err := c.Validate(); !errors.Is(err, egress.ErrInvalidConfig) {
		t.Errorf("Validate(version dev) = %v, want ErrInvalidConfig", err)
	}
	c.Version = "1.2.3-rc.1+g1234"
	if err := c.Validate(); err != nil {
		t.Errorf("Validate(1.2.3-rc.1+g1234) = %v", err)
	}
}

func TestNewNeedsConnection(t *testing.T) {
	if _, err := egress.New(egress.DefaultConfig(), egress.Deps{}); !errors.Is(err, egress.ErrNoConnection) {
		t.Errorf("New without NC = %v, want ErrNoConnection", err)
	}
}
