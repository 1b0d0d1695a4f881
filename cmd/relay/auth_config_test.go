package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relaybus/relaybus/internal/natsauth"
)

// TestListenBeyondLoopbackNeedsAuth: without authorization the all-in-one
// refuses to listen beyond loopback unless told it may.
func TestListenBeyondLoopbackNeedsAuth(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tt := range []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr bool
	}{
		{"OKAuthAnyInterface", map[string]string{"RELAY_NATS_LISTEN": "0.0.0.0:4222"}, nil, false},
		{"OKNoAuthLoopback", map[string]string{"RELAY_NATS_AUTH": "0", "RELAY_NATS_LISTEN": "127.0.0.1:4222"}, nil, false},
		{"OKNoAuthLocalhost", map[string]string{"RELAY_NATS_AUTH": "0", "RELAY_NATS_LISTEN": "localhost:4222"}, nil, false},
		{"OKNoAuthIPv6Loopback", map[string]string{"RELAY_NATS_AUTH": "0", "RELAY_NATS_LISTEN": "[::1]:4222"}, nil, false},
		{"ErrNoAuthAnyInterface", map[string]string{"RELAY_NATS_AUTH": "0", "RELAY_NATS_LISTEN": "0.0.0.0:4222"}, nil, true},
		{"ErrNoAuthEmptyHost", map[string]string{"RELAY_NATS_AUTH": "false", "RELAY_NATS_LISTEN": ":4222"}, nil, true},
		{"ErrNoAuthLANAddress", map[string]string{"RELAY_NATS_AUTH": "0", "RELAY_NATS_LISTEN": "192.168.1.5:4222"}, nil, true},
		{"OKNoAuthAllowedByEnv", map[string]string{"RELAY_NATS_AUTH": "0", "RELAY_NATS_LISTEN": "0.0.0.0:4222", "RELAY_NATS_ALLOW_INSECURE": "1"}, nil, false},
		{"OKNoAuthAllowedByFlag", map[string]string{"RELAY_NATS_AUTH": "0", "RELAY_NATS_LISTEN": "0.0.0.0:4222"}, []string{"--allow-insecure"}, false},
		{"ErrBadAuthValue", map[string]string{"RELAY_NATS_AUTH": "maybe"}, nil, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadAllInOne(tt.args, env(tt.env), &bytes.Buffer{})
			if (err != nil) != tt.wantErr {
				t.Errorf("loadAllInOne = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func TestKeysCommand(t *testing.T) {
	dir := t.TempDir() + "/keys"
	var out bytes.Buffer
	if err := runKeys([]string{dir}, func(string) string { return "" }, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	env, err := os.ReadFile(filepath.Join(dir, "nats.env"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := natsauth.Load(dir, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if conf, err := os.ReadFile(filepath.Join(dir, "nats-auth.conf")); err != nil || string(conf) != natsauth.ServerConf(keys) {
		t.Errorf("nats-auth.conf: %v\n%s", err, conf)
	}
	for _, id := range natsauth.Identities {
		k := keys.Of(id)
		if k.Generated {
			t.Errorf("%s generated again on the second run", id)
		}
		if line := natsauth.EnvName(id) + "_PUBLIC=" + k.Public + "\n"; !strings.Contains(string(env), line) {
			t.Errorf("nats.env lacks %q:\n%s", line, env)
		}
		seed, _ := os.ReadFile(k.SeedFile)
		if strings.Contains(out.String(), strings.TrimSpace(string(seed))) {
			t.Errorf("relay keys printed the %s seed", id)
		}
	}
}
