package natsembed_test

import (
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/relaybus/relaybus/internal/natsembed"
)

// TestServerLogLevels: the server's notices (its startup banner) are Debug
// lines, so that a process at the default level shows none of them.
func TestServerLogLevels(t *testing.T) {
	for _, tt := range []struct {
		level  slog.Level
		banner bool
	}{{slog.LevelInfo, false}, {slog.LevelDebug, true}} {
		// A file: the server's goroutines write it, the test reads it
		// once the server is down.
		f, err := os.CreateTemp(t.TempDir(), "log")
		if err != nil {
			t.Fatal(err)
		}
		ns, err := natsembed.Start(natsembed.Config{
			DontListen: true,
			StoreDir:   t.TempDir(),
			Log:        slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: tt.level})),
		})
		if err != nil {
			t.Fatal(err)
		}
		natsembed.Shutdown(ns)
		f.Close()
		b, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		out := string(b)
		if got := strings.Contains(out, "Starting nats-server"); got != tt.banner {
			t.Errorf("at %v: banner logged = %v, want %v\n%s", tt.level, got, tt.banner, out)
		}
		if strings.Contains(out, "level=INFO") {
			t.Errorf("at %v: the server logged at Info:\n%s", tt.level, out)
		}
	}
}
