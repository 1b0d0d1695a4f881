package natsembed_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
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
		var out lockedBuffer
		ns, err := natsembed.Start(natsembed.Config{
			DontListen: true,
			StoreDir:   t.TempDir(),
			Log:        slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: tt.level})),
		})
		if err != nil {
			t.Fatal(err)
		}
		natsembed.Shutdown(ns)
		if got := strings.Contains(out.String(), "Starting nats-server"); got != tt.banner {
			t.Errorf("at %v: banner logged = %v, want %v\n%s", tt.level, got, tt.banner, out.String())
		}
		if strings.Contains(out.String(), "level=INFO") {
			t.Errorf("at %v: the server logged at Info:\n%s", tt.level, out.String())
		}
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
