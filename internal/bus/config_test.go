package bus_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/envconf/envconftest"
)

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name   string
		env    map[string]string
		want   bus.Config
		wantIn string // an error naming this
	}{
		{name: "Defaults", want: bus.Config{Replicas: 1, DuplicateWindow: time.Hour, RawDuplicateWindow: 30 * time.Second, OutboundDuplicateWindow: 30 * time.Second, InboundDuplicateWindow: 30 * time.Second, AckLogMaxBytes: 256 << 20, InboundMaxAge: 24 * time.Hour, InboundMaxBytes: 1 << 30, DLQMaxAge: 7 * 24 * time.Hour, Partitions: 4, RawMaxBytes: 1 << 30, OutboundMaxBytes: 256 << 20}},
		{name: "AllSet", env: map[string]string{
			"RELAY_STREAM_REPLICAS": "3", "RELAY_DUPLICATE_WINDOW": "2h", "RELAY_INBOUND_MAX_AGE": "1h",
			"RELAY_INBOUND_MAX_BYTES": "2097152", "RELAY_DLQ_MAX_AGE": "48h", "RELAY_STREAM_STORAGE": "memory", "RELAY_PARTITIONS": "0",
			"RELAY_RAW_MAX_BYTES": "4194304", "RELAY_OUTBOUND_MAX_BYTES": "2097152",
			"RELAY_RAW_DUPLICATE_WINDOW": "30s", "RELAY_OUTBOUND_DUPLICATE_WINDOW": "1m", "RELAY_ACKLOG_MAX_BYTES": "8388608",
			"RELAY_INBOUND_DUPLICATE_WINDOW": "45s",
		}, want: bus.Config{Replicas: 3, DuplicateWindow: 2 * time.Hour, RawDuplicateWindow: 30 * time.Second, OutboundDuplicateWindow: time.Minute, InboundDuplicateWindow: 45 * time.Second, AckLogMaxBytes: 8 << 20, InboundMaxAge: time.Hour, InboundMaxBytes: 2 << 20, DLQMaxAge: 48 * time.Hour, Memory: true,
			RawMaxBytes: 4 << 20, OutboundMaxBytes: 2 << 20}},
		{name: "ErrReplicas", env: map[string]string{"RELAY_STREAM_REPLICAS": "x"}, wantIn: "RELAY_STREAM_REPLICAS"},
		{name: "ErrReplicasRange", env: map[string]string{"RELAY_STREAM_REPLICAS": "7"}, wantIn: "RELAY_STREAM_REPLICAS"},
		{name: "ErrWindow", env: map[string]string{"RELAY_DUPLICATE_WINDOW": "10ms"}, wantIn: "RELAY_DUPLICATE_WINDOW"},
		{name: "ErrRawWindow", env: map[string]string{"RELAY_RAW_DUPLICATE_WINDOW": "100ms"}, wantIn: "RELAY_RAW_DUPLICATE_WINDOW"},
		{name: "ErrAckLogMaxBytes", env: map[string]string{"RELAY_ACKLOG_MAX_BYTES": "1000"}, wantIn: "RELAY_ACKLOG_MAX_BYTES"},
		{name: "ErrMaxBytes", env: map[string]string{"RELAY_INBOUND_MAX_BYTES": "1024"}, wantIn: "RELAY_INBOUND_MAX_BYTES"},
		{name: "ErrStorage", env: map[string]string{"RELAY_STREAM_STORAGE": "disk"}, wantIn: `RELAY_STREAM_STORAGE="disk": want file or memory`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := bus.FromEnv(func(k string) string { return tt.env[k] })
			if tt.wantIn != "" {
				envconftest.WantInvalid(t, err, bus.ErrInvalidConfig, tt.wantIn)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("FromEnv (-want +got):\n%s", diff)
			}
		})
	}
}
