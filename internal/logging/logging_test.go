package logging_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/relaybus/relaybus/internal/logging"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// TestNewFormats: JSON unless told otherwise or writing to a terminal.
func TestNewFormats(t *testing.T) {
	tests := []struct {
		name   string
		getenv func(string) string
		json   bool
	}{
		{"DefaultOnABuffer", env(), true},
		{"JSON", env("LOG_FORMAT", "json"), true},
		{"Text", env("LOG_FORMAT", "TEXT"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := logging.New(&buf, tt.getenv)
			if err != nil {
				t.Fatal(err)
			}
			log.Info("hello", "k", "v")
			if got := json.Valid(buf.Bytes()); got != tt.json {
				t.Errorf("output %q: JSON = %v, want %v", buf.String(), got, tt.json)
			}
		})
	}
}

func TestNewRejectsBadValues(t *testing.T) {
	for _, tt := range []struct{ key, value string }{{"LOG_LEVEL", "loud"}, {"LOG_FORMAT", "xml"}} {
		_, err := logging.New(&bytes.Buffer{}, env(tt.key, tt.value))
		if !errors.Is(err, logging.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.key) {
			t.Errorf("%s=%s: err = %v, want ErrInvalidConfig naming %s", tt.key, tt.value, err, tt.key)
		}
	}
}

func TestNewLevel(t *testing.T) {
	var buf bytes.Buffer
	log, err := logging.New(&buf, env("LOG_LEVEL", "warn"))
	if err != nil {
		t.Fatal(err)
	}
	log.Info("quiet")
	log.Warn("loud")
	if out := buf.String(); strings.Contains(out, "quiet") || !strings.Contains(out, "loud") {
		t.Errorf("output at warn = %q, want only the warning", out)
	}
}

// TestNewOnATerminal: a terminal gets short text lines unless LOG_FORMAT
// says json; /dev/null and files are not terminals.
func TestNewOnATerminal(t *testing.T) {
	tty := openPTY(t)
	if !logging.IsTerminal(tty.File) {
		t.Fatal("IsTerminal(pty) = false")
	}
	for _, name := range []string{os.DevNull, t.TempDir() + "/log"} {
		f, err := os.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if logging.IsTerminal(f) {
			t.Errorf("IsTerminal(%s) = true", name)
		}
		f.Close()
	}
	if logging.IsTerminal(&bytes.Buffer{}) {
		t.Error("IsTerminal(buffer) = true")
	}

	// What the logger writes to the terminal is read back from its master.
	for _, tt := range []struct {
		format string
		want   *regexp.Regexp
	}{
		{"", regexp.MustCompile(`^time=\d\d:\d\d:\d\d\.\d\d\d level=INFO msg=hello k=v\r?\n$`)},
		{"json", regexp.MustCompile(`^\{"time":"[^"]+T[^"]+","level":"INFO","msg":"hello","k":"v"\}\r?\n$`)},
	} {
		log, err := logging.New(tty.File, env("LOG_FORMAT", tt.format))
		if err != nil {
			t.Fatal(err)
		}
		log.Info("hello", "k", "v")
		if got := readLine(t, tty.master); !tt.want.MatchString(got) {
			t.Errorf("LOG_FORMAT=%q on a terminal wrote %q, want %v", tt.format, got, tt.want)
		}
	}
}

// pty is the slave side of a pseudo-terminal; master reads what is
// written to it.
type pty struct {
	*os.File
	master *os.File
}

func openPTY(t *testing.T) pty {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Skipf("ptsname: %v", err)
	}
	slave, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("opening the pty: %v", err)
	}
	t.Cleanup(func() { slave.Close() })
	return pty{slave, master}
}

func readLine(t *testing.T, f *os.File) string {
	t.Helper()
	var line []byte
	b := make([]byte, 1)
	for len(line) < 4096 {
		if _, err := f.Read(b); err != nil {
			t.Fatalf("reading the terminal: %v", err)
		}
		line = append(line, b[0])
		if b[0] == '\n' {
			break
		}
	}
	return string(line)
}
