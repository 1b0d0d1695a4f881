package envconf_test

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/relaybus/relaybus/internal/envconf"
	"github.com/relaybus/relaybus/pkg/events"
)

type config struct {
	N       int
	Big     int64
	D       time.Duration
	B       bool
	S       string
	Secret  string
	List    []string
	Storage bool // true: memory
}

func (c *config) vars() []envconf.Var {
	return []envconf.Var{
		envconf.V("N", &c.N, 7, "a count").Min(1).Max(10),
		envconf.V("BIG", &c.Big, 1<<20, "bytes").Min(1024),
		envconf.V("D", &c.D, time.Hour, "a wait").Positive(),
		envconf.V("B", &c.B, false, "a switch"),
		envconf.V("S", &c.S, "", "a name"),
		envconf.V("SECRET", &c.Secret, "", "a password").Raw().Secret(),
		envconf.V("LIST", &c.List, nil, "names"),
		envconf.Func("STORAGE", &c.Storage, false, "where", func(s string) (bool, error) {
			if s != "file" && s != "memory" {
				return false, errors.New("file or memory")
			}
			return s == "memory", nil
		}, func(m bool) string { return map[bool]string{false: "file", true: "memory"}[m] }),
	}
}

func defaults() config {
	var c config
	envconf.Defaults(c.vars()...)
	return c
}

func TestParse(t *testing.T) {
	env := map[string]string{
		"N": " 9 ", "BIG": "2048", "D": "15m", "B": "1", "S": " x ", "SECRET": " s ",
		"LIST": " a, ,b ", "STORAGE": "memory",
	}
	c := defaults()
	if err := envconf.Parse(func(k string) string { return env[k] }, c.vars()...); err != nil {
		t.Fatal(err)
	}
	want := config{N: 9, Big: 2048, D: 15 * time.Minute, B: true, S: "x", Secret: " s ", List: []string{"a", "b"}, Storage: true}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
}

// TestParseUnsetAndBlank: an unset or blank variable keeps the default; a
// raw one is set by spaces (for Validate to refuse).
func TestParseUnsetAndBlank(t *testing.T) {
	env := map[string]string{"N": "  ", "S": "", "SECRET": "  "}
	c := defaults()
	if err := envconf.Parse(func(k string) string { return env[k] }, c.vars()...); err != nil {
		t.Fatal(err)
	}
	want := defaults()
	want.Secret = "  "
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name, key, value string
		want             string // the whole message
	}{
		{"NotInt", "N", "seven", `N="seven": want an integer`},
		{"NotDuration", "D", "soon", `D="soon": want a duration like 30s or 15m`},
		{"NotBool", "B", "yes please", `B="yes please": want true or false (1 or 0)`},
		{"Func", "STORAGE", "disk", `STORAGE="disk": want file or memory`},
		{"Min", "N", "0", `N="0": want at least 1`},
		{"Max", "N", "11", `N="11": want at most 10`},
		{"MinInt64", "BIG", "1", `BIG="1": want at least 1024`},
		{"Positive", "D", "0s", `D="0s": want a positive duration like 30s`},
		{"Negative", "D", "-1m", `D="-1m": want a positive duration like 30s`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := defaults()
			err := envconf.Parse(func(k string) string { return map[string]string{tt.key: tt.value}[k] }, c.vars()...)
			if err == nil {
				err = envconf.Check(c.vars()...)
			}
			if !errors.Is(err, envconf.ErrInvalid) || err.Error() != tt.want {
				t.Errorf("error = %v, want %s", err, tt.want)
			}
		})
	}
}

// TestSecretNeverShown: neither the log nor an error carries a secret.
func TestSecretNeverShown(t *testing.T) {
	type cfg struct{ Pass int }
	var c cfg
	vars := []envconf.Var{envconf.V("PASS", &c.Pass, 0, "a numeric password").Secret()}
	err := envconf.Parse(func(string) string { return "hunter2" }, vars...)
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "PASS") {
		t.Errorf("Parse = %v, want an error naming PASS without its value", err)
	}
	c.Pass = 1234
	if s := envconf.LogValue(vars...).String(); strings.Contains(s, "1234") || !strings.Contains(s, "[redacted]") {
		t.Errorf("LogValue = %s, want the value redacted", s)
	}
	var unset string
	vars = []envconf.Var{envconf.V("TOKEN", &unset, "", "a token").Secret()}
	if s := envconf.LogValue(vars...).String(); s != "[TOKEN=]" {
		t.Errorf("LogValue = %s, want an unset secret shown empty", s)
	}
}

func TestRedact(t *testing.T) {
	var url string
	vars := []envconf.Var{envconf.V("URL", &url, "", "where").Redact(func(s string) string {
		if at := strings.LastIndex(s, "@"); at >= 0 {
			return "xxxxx" + s[at:]
		}
		return s
	})}
	url = "nats://u:p@h"
	if s := envconf.LogValue(vars...).String(); s != "[URL=xxxxx@h]" {
		t.Errorf("LogValue = %s", s)
	}
	if md := envconf.Markdown(vars...); !strings.Contains(md, "redacted") {
		t.Errorf("Markdown does not say the value is redacted:\n%s", md)
	}
}

func TestLogValue(t *testing.T) {
	c := defaults()
	c.Secret, c.List = "hunter2", []string{"a", "b"}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})).Info("startup", "config", envconf.LogValue(c.vars()...))
	want := `level=INFO msg=startup config.N=7 config.BIG=1048576 config.D=1h config.B=false config.S="" config.SECRET=[redacted] config.LIST=a,b config.STORAGE=file` + "\n"
	if b.String() != want {
		t.Errorf("log line\n got %s\nwant %s", b.String(), want)
	}
}

func TestMarkdown(t *testing.T) {
	var c config
	got := envconf.Markdown(c.vars()...)
	want := "| variable | default | meaning |\n|---|---|---|\n" +
		"| `N` | `7` | a count (≥ 1, ≤ 10) |\n" +
		"| `BIG` | `1048576` | bytes (≥ 1024) |\n" +
		"| `D` | `1h` | a wait (> 0) |\n" +
		"| `B` | `false` | a switch |\n" +
		"| `S` | unset | a name |\n" +
		"| `SECRET` | unset | a password (secret: never logged) |\n" +
		"| `LIST` | unset | names |\n" +
		"| `STORAGE` | `file` | where |\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Markdown (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"N", "BIG", "D", "B", "S", "SECRET", "LIST", "STORAGE"}, envconf.Names(c.vars()...)); diff != "" {
		t.Errorf("Names (-want +got):\n%s", diff)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Hour: "1h", 15 * time.Minute: "15m", 90 * time.Second: "1m30s", 250 * time.Millisecond: "250ms",
		7 * 24 * time.Hour: "168h", 150 * time.Minute: "2h30m", 0: "0s", time.Hour + time.Second: "1h0m1s",
	} {
		got := envconf.FormatDuration(d)
		if back, err := time.ParseDuration(got); got != want || err != nil || back != d {
			t.Errorf("FormatDuration(%v) = %q (reads back %v, %v), want %q", d, got, back, err, want)
		}
	}
}

func ExampleV() {
	type Config struct {
		Workers int
		Wait    time.Duration
	}
	var c Config
	vars := []envconf.Var{
		envconf.V("WORKERS", &c.Workers, 64, "handlers at once").Min(1),
		envconf.V("WAIT", &c.Wait, 5*time.Second, "how long to wait").Positive(),
	}
	envconf.Defaults(vars...)
	env := map[string]string{"WORKERS": "0"}
	err := envconf.Parse(func(k string) string { return env[k] }, vars...)
	if err == nil {
		err = envconf.Check(vars...)
	}
	fmt.Println(err)
	fmt.Println(envconf.LogValue(vars...))
	// Output:
	// WORKERS="0": want at least 1
	// [WORKERS=0 WAIT=5s]
}

func TestIdentities(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want events.Identities
		log  string
	}{
		{"Unset", nil, nil, "[GATEWAY_RELAY_PLATFORMS= GATEWAY_RELAY_BOT_IDS=]"},
		{"BotIDsAlone", map[string]string{"GATEWAY_RELAY_BOT_IDS": `{"discord":{"botId":"1"}}`}, nil,
			"[GATEWAY_RELAY_PLATFORMS= GATEWAY_RELAY_BOT_IDS=]"},
		{"Both", map[string]string{"GATEWAY_RELAY_PLATFORMS": " , telegram,discord", "GATEWAY_RELAY_BOT_IDS": `{"telegram":{"botId":"77"},"discord":"12"}`},
			events.Identities{{Platform: "telegram", BotID: "77"}, {Platform: "discord", BotID: "12"}},
			`[GATEWAY_RELAY_PLATFORMS=telegram,discord GATEWAY_RELAY_BOT_IDS={"discord":{"botId":"12"},"telegram":{"botId":"77"}}]`},
		{"BadJSON", map[string]string{"GATEWAY_RELAY_PLATFORMS": "discord", "GATEWAY_RELAY_BOT_IDS": `{`},
			events.Identities{{Platform: "discord"}}, "[GATEWAY_RELAY_PLATFORMS=discord GATEWAY_RELAY_BOT_IDS=]"},
		{"NoPlatformInList", map[string]string{"GATEWAY_RELAY_PLATFORMS": ","},
			events.Identities{{Platform: events.PlatformRelay}}, "[GATEWAY_RELAY_PLATFORMS=relay GATEWAY_RELAY_BOT_IDS=]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ids events.Identities
			vars := envconf.Identities(&ids, "platforms", "bot ids")
			if err := envconf.Parse(func(k string) string { return tt.env[k] }, vars...); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, ids); diff != "" {
				t.Errorf("identities (-want +got):\n%s", diff)
			}
			if s := envconf.LogValue(vars...).String(); s != tt.log {
				t.Errorf("LogValue = %s, want %s", s, tt.log)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	errBad := errors.New("test: invalid config")
	validate := func(c config) error {
		if c.N == 3 {
			return fmt.Errorf("%w: N is 3", errBad)
		}
		return nil
	}
	load := func(env map[string]string) (config, error) {
		return envconf.Load(func(k string) string { return env[k] }, defaults(), (*config).vars, validate, errBad)
	}
	if c, err := load(map[string]string{"N": "9"}); err != nil || c.N != 9 || c.D != time.Hour {
		t.Errorf("Load = %+v, %v; want N 9 over the defaults", c, err)
	}
	if _, err := load(map[string]string{"N": "3"}); !errors.Is(err, errBad) {
		t.Errorf("Load(N=3) = %v, want validate's error on the parsed value", err)
	}
	if _, err := load(map[string]string{"N": "x"}); !errors.Is(err, errBad) || !errors.Is(err, envconf.ErrInvalid) || err.Error() != `test: invalid config: N="x": want an integer` {
		t.Errorf("Load(N=x) = %v, want the parse error wrapped in the sentinel", err)
	}
}
