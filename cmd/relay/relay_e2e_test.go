package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/fixtures"
	"github.com/relaybus/relaybus/internal/natsauth"
	"github.com/relaybus/relaybus/internal/natsconn"
	"github.com/relaybus/relaybus/pkg/natstest"
)

// relayBin is the relay binary built once for the end-to-end tests.
var relayBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "relay-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	relayBin = filepath.Join(dir, "relay")
	args := []string{"build", "-o", relayBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building relay:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// relayProc is a running relay binary.
type relayProc struct {
	cmd     *exec.Cmd
	out     *bytes.Buffer
	ops     string
	dev     string
	natsURL string
	dataDir string
	done    chan error
}

func startRelay(t *testing.T, dataDir string, extraEnv ...string) *relayProc {
	t.Helper()
	p := &relayProc{ops: freeAddr(t), dev: freeAddr(t), out: &bytes.Buffer{}, done: make(chan error, 1), dataDir: dataDir}
	natsAddr := freeAddr(t)
	p.natsURL = "nats://" + natsAddr
	p.cmd = exec.Command(relayBin, "--dev")
	p.cmd.Env = append(os.Environ(),
		"RELAY_DATA_DIR="+dataDir, "RELAY_NATS_LISTEN="+natsAddr, "RELAY_HTTP_ADDR="+p.ops,
		"RELAY_DEV_CONNECTOR_ADDR="+p.dev, "LOG_FORMAT=text", "LOG_LEVEL=info")
	p.cmd.Env = append(p.cmd.Env, extraEnv...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("relay output:\n%s", p.out.String())
		}
	})
	waitHTTP(t, 60*time.Second, "http://"+p.ops+"/readyz", func(code int, _ []byte) error {
		if code != http.StatusOK {
			return fmt.Errorf("readyz = %d", code)
		}
		return nil
	})
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (p *relayProc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatalf("relay exited with %v after SIGTERM\n%s", err, p.out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("relay did not stop within 30s of SIGTERM\n%s", p.out.String())
	}
}

func waitHTTP(t *testing.T, timeout time.Duration, url string, check func(int, []byte) error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if last = check(resp.StatusCode, body); last == nil {
				return
			}
		} else {
			last = err
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not as expected within %v: %v", url, timeout, last)
}

func post(t *testing.T, url, contentType string, body []byte) {
	t.Helper()
	resp, err := http.Post(url, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s = %d: %s", url, resp.StatusCode, b)
	}
}

// outboundRecord is what the dev connector's /outbound lists.
type outboundRecord struct {
	RequestID string         `json:"requestId"`
	Action    map[string]any `json:"action"`
	Platform  string         `json:"platform"`
	BotID     string         `json:"botId"`
	Result    map[string]any `json:"result"`
}

func outbound(t *testing.T, p *relayProc, want int) []outboundRecord {
	t.Helper()
	var recs []outboundRecord
	waitHTTP(t, 30*time.Second, "http://"+p.dev+"/outbound", func(code int, body []byte) error {
		recs = nil
		if err := json.Unmarshal(body, &recs); err != nil {
			return err
		}
		if len(recs) < want {
			return fmt.Errorf("%d outbound frames, want %d", len(recs), want)
		}
		return nil
	})
	return recs
}

func metaString(a map[string]any, key string) string {
	m, _ := a["metadata"].(map[string]any)
	s, _ := m[key].(string)
	return s
}

func TestDevModeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the relay binary")
	}
	p := startRelay(t, t.TempDir())
	// Every fixture of the contract (docs/discord-interactions.md §6).
	interactions := fixtures.Contract
	pings := 0
	for _, name := range interactions {
		body, err := fixtures.ReadDiscord(name)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(body, []byte(`"type": 1,`)) && !bytes.Contains(body, []byte(`"data"`)) {
			pings++ // answered by the connector itself, never forwarded
		}
		post(t, "http://"+p.dev+"/interactions", "application/json", body)
	}
	interactions = interactions[:len(interactions)-pings]
	// A plain guild message and a DM, which the echo agent answers with send.
	post(t, "http://"+p.dev+"/inbound", "application/json",
		[]byte(`{"text":"hello guild","message_id":"m1","source":{"platform":"discord","chat_id":"c-guild","chat_type":"group","user_id":"u1","guild_id":"g1"}}`))
	post(t, "http://"+p.dev+"/inbound", "application/json",
		[]byte(`{"text":"hello dm","message_id":"m2","source":{"platform":"discord","chat_id":"c-dm","chat_type":"dm","user_id":"u2"}}`))

	recs := outbound(t, p, len(interactions)+2)
	followUps, sends := 0, map[string]outboundRecord{}
	for _, r := range recs {
		switch r.Action["op"] {
		case "follow_up":
			followUps++
			if r.Result["success"] != true {
				t.Errorf("follow_up for %v failed: %v", r.Action["session_key"], r.Result)
			}
		case "send":
			sends[r.Action["chat_id"].(string)] = r
		}
	}
	if followUps != len(interactions) {
		t.Errorf("follow_ups = %d, want one per interaction (%d)", followUps, len(interactions))
	}
	g, ok := sends["c-guild"]
	if !ok {
		t.Fatalf("no send to the guild chat; outbound: %+v", recs)
	}
	if metaString(g.Action, "scope_id") != "g1" || metaString(g.Action, "guild_id") != "g1" {
		t.Errorf("guild reply metadata = %v, want scope_id and guild_id g1", g.Action["metadata"])
	}
	if !strings.Contains(g.Action["content"].(string), "hello guild") {
		t.Errorf("guild reply content = %q", g.Action["content"])
	}
	d, ok := sends["c-dm"]
	if !ok {
		t.Fatal("no send to the DM chat")
	}
	if metaString(d.Action, "user_id") != "u2" || metaString(d.Action, "scope_id") != "" {
		t.Errorf("DM reply metadata = %v, want user_id u2 and no scope", d.Action["metadata"])
	}
	if g.Result["success"] != true || d.Result["success"] != true {
		t.Errorf("sends not accepted by the connector: %v / %v", g.Result, d.Result)
	}

	// The operator CLI against the running process.
	out := p.cli(t, "send", "--chat", "c-guild", "--content", "from the cli", "--id", "cli-1")
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil || res["success"] != true {
		t.Errorf("relay send printed %q, want a successful result", out)
	}
	recs = outbound(t, p, len(interactions)+3)
	if last := recs[len(recs)-1].Action; last["content"] != "from the cli" || metaString(last, "scope_id") != "g1" {
		t.Errorf("relay send reached the connector as %v, want content and scope g1", last)
	}
	out = p.cli(t, "tail", "--all", "--n", "1", "--chat", "c-dm")
	if !strings.Contains(out, `"text":"hello dm"`) {
		t.Errorf("relay tail printed %q, want the DM event", out)
	}
	post(t, "http://"+p.dev+"/raw", "application/octet-stream", []byte("this is not json\n"))
	waitFor(t, 10*time.Second, func() error {
		if out = p.cli(t, "dlq", "list"); !strings.Contains(out, "not_json") {
			return fmt.Errorf("relay dlq list = %q, want a not_json dead letter", out)
		}
		return nil
	})
	seq := strings.Fields(out)[0]
	if show := p.cli(t, "dlq", "show", seq); !strings.Contains(show, "this is not json") || !strings.Contains(show, "Relay-Error") {
		t.Errorf("relay dlq show %s = %q", seq, show)
	}
	p.cli(t, "dlq", "purge")
	if out = p.cli(t, "dlq", "list"); strings.TrimSpace(out) != "" {
		t.Errorf("relay dlq list after purge = %q, want nothing", out)
	}
	p.stop(t)
}

// cli runs a relay subcommand against the process's NATS listener and
// returns its standard output; it fails the test on a non-zero exit. It
// runs as an operator would beside the process: with the same
// RELAY_DATA_DIR, where it finds the operator's key.
func (p *relayProc) cli(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(relayBin, args...)
	cmd.Env = append(os.Environ(), "NATS_URL="+p.natsURL, "RELAY_DATA_DIR="+p.dataDir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("relay %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// as authenticates a connection to p's server as identity id, with the
// seed the process generated.
func (p *relayProc) as(t *testing.T, id string) nats.Option {
	t.Helper()
	return natsconn.NKeyOption(natsauth.SeedFile(filepath.Join(p.dataDir, "creds"), id))
}

func waitFor(t *testing.T, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTwoIdentities runs the binary fronting a Discord and a Telegram bot:
// every reply leaves under the identity its chat's traffic came in on
// (contract §6 "Identity of a reply"), and internal metadata keys never
// reach the connector.
func TestTwoIdentities(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the relay binary")
	}
	p := startRelay(t, t.TempDir(),
		"GATEWAY_RELAY_PLATFORMS=discord,telegram",
		`GATEWAY_RELAY_BOT_IDS={"discord":{"botId":"dc-bot"},"telegram":{"botId":"tg-bot"}}`)
	post(t, "http://"+p.dev+"/inbound", "application/json",
		[]byte(`{"text":"hi from telegram","message_id":"t1","source":{"platform":"telegram","chat_id":"tg-chat","chat_type":"dm","user_id":"tu"}}`))
	post(t, "http://"+p.dev+"/inbound", "application/json",
		[]byte(`{"text":"hi from discord","message_id":"d1","source":{"platform":"discord","chat_id":"dc-chat","chat_type":"group","user_id":"du","guild_id":"g1"}}`))
	// A slash command, forwarded for the application "dc-app": its
	// follow_up goes out under the bot the provider called.
	post(t, "http://"+p.dev+"/interactions", "application/json", []byte(`{"type":2,"id":"i-1","application_id":"dc-app","token":"tok-1","channel_id":"dc-slash","guild_id":"g1",`+
		`"member":{"user":{"id":"du","username":"d"}},"data":{"id":"cmd","name":"ping","type":1}}`))

	recs := outbound(t, p, 3)
	byChat := map[string]outboundRecord{}
	for _, r := range recs {
		switch r.Action["op"] {
		case "send":
			byChat[r.Action["chat_id"].(string)] = r
		case "follow_up":
			byChat["follow_up"] = r
		}
	}
	for _, tt := range []struct{ key, platform, bot string }{
		{"tg-chat", "telegram", "tg-bot"},
		{"dc-chat", "discord", "dc-bot"},
		{"follow_up", "discord", "dc-app"},
	} {
		r, ok := byChat[tt.key]
		if !ok {
			t.Errorf("no reply for %s; outbound: %+v", tt.key, recs)
			continue
		}
		if r.Platform != tt.platform || r.BotID != tt.bot {
			t.Errorf("reply for %s left as %q/%q, want %q/%q", tt.key, r.Platform, r.BotID, tt.platform, tt.bot)
		}
		if r.Result["success"] != true {
			t.Errorf("reply for %s not accepted: %v", tt.key, r.Result)
		}
	}

	// An agent's own marker stays on the bus, never on the wire.
	out := p.cli(t, "send", "--id", "marked", "--json",
		`{"op":"send","chat_id":"tg-chat","content":"marked","reply_to":null,"metadata":{"_marker":"internal","keep":"yes"}}`)
	if !strings.Contains(out, `"success":true`) {
		t.Errorf("relay send printed %q, want success", out)
	}
	recs = outbound(t, p, 4)
	last := recs[len(recs)-1]
	md, _ := last.Action["metadata"].(map[string]any)
	if last.Action["content"] != "marked" || md["keep"] != "yes" || md["_marker"] != nil {
		t.Errorf("marked send reached the connector as %v, want keep=yes and no _marker", last.Action)
	}
	if last.Platform != "telegram" || last.BotID != "tg-bot" {
		t.Errorf("marked send left as %q/%q, want telegram/tg-bot", last.Platform, last.BotID)
	}
	p.stop(t)
}

func TestRestartDeliversPendingOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the relay binary twice")
	}
	data := t.TempDir()
	// First run: no agent, so events stay pending in RELAY_INBOUND.
	p1 := startRelay(t, data, "RELAY_DEV_NO_ECHO=1")
	const n = 20
	for i := range n {
		post(t, "http://"+p1.dev+"/inbound", "application/json",
			[]byte(fmt.Sprintf(`{"text":"pending %d","message_id":"p%d","source":{"platform":"discord","chat_id":"c%d","chat_type":"group","user_id":"u","guild_id":"g"}}`, i, i, i)))
	}
	waitHTTP(t, 30*time.Second, "http://"+p1.ops+"/metrics", func(_ int, body []byte) error {
		if !bytes.Contains(body, []byte(fmt.Sprintf(`relay_converter_events_total{kind="inbound"} %d`, n))) {
			return fmt.Errorf("converter has not published %d events yet", n)
		}
		return nil
	})
	p1.stop(t)

	// Second run on the same data dir, with the echo agent.
	p2 := startRelay(t, data)
	outbound(t, p2, n)
	// Count only once everything is settled: the agent has acked every
	// event and egress has consumed every action, so a duplicate would
	// already be recorded.
	nc, err := nats.Connect(p2.natsURL, p2.as(t, natsauth.Operator))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, func() error {
		ci, err := js.Consumer(t.Context(), "RELAY_INBOUND", "echo-agent")
		if err != nil {
			return err
		}
		info, err := ci.Info(t.Context())
		if err != nil {
			return err
		}
		if info.NumPending != 0 || info.NumAckPending != 0 {
			return fmt.Errorf("echo agent: %d pending, %d unacked", info.NumPending, info.NumAckPending)
		}
		st, err := js.Stream(t.Context(), "RELAY_OUTBOUND")
		if err != nil {
			return err
		}
		si, err := st.Info(t.Context())
		if err != nil {
			return err
		}
		if si.State.Msgs != 0 {
			return fmt.Errorf("%d actions not yet consumed by egress", si.State.Msgs)
		}
		return nil
	})
	recs := outbound(t, p2, n)
	count := map[string]int{}
	for _, r := range recs {
		if r.Action["op"] == "send" {
			count[r.Action["chat_id"].(string)]++
		}
	}
	pending := make([]string, n)
	for i := range pending {
		pending[i] = fmt.Sprintf("c%d", i)
	}
	natstest.Tally(t, "replies to the pending events after the restart", pending, count)
	p2.stop(t)
}

// TestBenchAllInOneSoak runs relay bench --allinone briefly: it must start
// the all-in-one as a child process, feed it, sample the child (not
// itself) and deliver every event exactly once.
func TestBenchAllInOneSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a soak")
	}
	cmd := exec.Command(relayBin, "bench", "--allinone", "--soak", "5s", "--soak-rate", "200", "--json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	// The soak's verdict (keeping up with the offered rate, flat RSS) is a
	// performance judgement and depends on the machine's load: it is
	// reported, not asserted. What must hold is the bench's mechanics and
	// that nothing was lost or duplicated. The bench exits non-zero on a
	// bad verdict after printing its report.
	out, runErr := cmd.Output()
	var rep struct {
		SoakProcess string `json:"soak_process"`
		SoakVerdict string `json:"soak_verdict"`
		PeakRSS     int64  `json:"peak_rss_bytes"`
		Lost        int    `json:"lost"`
		Duplicated  int    `json:"duplicated"`
		Soak        []struct {
			RSS        int64 `json:"rss_bytes"`
			Goroutines int   `json:"goroutines"`
			Delivered  int64 `json:"delivered"`
		} `json:"soak"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("bench output is not JSON: %v (exit: %v)\n%s\n%s", err, runErr, out, stderr.String())
	}
	if runErr != nil && strings.HasPrefix(rep.SoakVerdict, "ok") {
		t.Fatalf("relay bench --allinone: %v with verdict %q\n%s", runErr, rep.SoakVerdict, stderr.String())
	}
	if rep.SoakProcess != "all-in-one child process" || rep.SoakVerdict == "" || rep.Lost != 0 || rep.Duplicated != 0 {
		t.Fatalf("report = %+v", rep)
	}
	if len(rep.Soak) < 6 || rep.PeakRSS <= 0 {
		t.Fatalf("got %d samples, peak RSS %d; want at least 6 and a child RSS", len(rep.Soak), rep.PeakRSS)
	}
	last := rep.Soak[len(rep.Soak)-1]
	if last.RSS <= 0 || last.Goroutines <= 0 || last.Delivered <= 0 {
		t.Fatalf("last sample %+v: want the child's RSS and goroutines and deliveries", last)
	}
	t.Logf("all-in-one: peak RSS %.1f MB, %d samples, verdict %s", float64(rep.PeakRSS)/1e6, len(rep.Soak), rep.SoakVerdict)
}
