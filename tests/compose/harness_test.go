package compose

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
)

// Bounds of every wait: the machine has two cores and runs a dozen
// containers.
const (
	cmdTimeout     = 3 * time.Minute  // one docker or compose command
	startTimeout   = 90 * time.Second // stages connected, connector handshaken
	deliverTimeout = 3 * time.Minute  // every message through
)

var (
	// root is the repository root (docker-compose.yml, scripts/).
	root string
	// composeCmd is "docker compose" or "docker-compose".
	composeCmd []string
	// imageEnv is .images.env: the images the run uses.
	imageEnv []string
	// skipReason is why the suite does not run ("" when it does).
	skipReason string
	// setupErr is a failure to prepare the run (fails every test).
	setupErr error
	// commands records the compose and docker commands run, for the log.
	commandsMu sync.Mutex
	commands   []string
)

func TestMain(m *testing.M) {
	skipReason, setupErr = setup()
	code := m.Run()
	if skipReason == "" && setupErr == nil {
		commandsMu.Lock()
		fmt.Printf("compose suite: %d docker commands run\n", len(commands))
		commandsMu.Unlock()
	}
	os.Exit(code)
}

func setup() (skip string, err error) {
	if os.Getenv("RELAYBUS_COMPOSE") != "1" {
		return "the compose suite runs with RELAYBUS_COMPOSE=1 (make test-compose)", nil
	}
	requireDocker := os.Getenv("RELAYBUS_REQUIRE_DOCKER") == "1"
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		msg := fmt.Sprintf("no Docker engine (docker info: %v: %s)", err, strings.TrimSpace(string(out)))
		if requireDocker {
			return "", fmt.Errorf("%s, and RELAYBUS_REQUIRE_DOCKER=1", msg)
		}
		return msg + "; set RELAYBUS_REQUIRE_DOCKER=1 to fail instead of skipping", nil
	}
	switch {
	case exec.Command("docker", "compose", "version").Run() == nil:
		composeCmd = []string{"docker", "compose"}
	case exec.Command("docker-compose", "version").Run() == nil:
		composeCmd = []string{"docker-compose"}
	default:
		msg := "neither `docker compose` nor `docker-compose` is installed"
		if requireDocker {
			return "", fmt.Errorf("%s, and RELAYBUS_REQUIRE_DOCKER=1", msg)
		}
		return msg, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root = filepath.Join(wd, "..", "..")
	if os.Getenv("RELAYBUS_COMPOSE_NO_BUILD") != "1" {
		// The images, once for the run.
		t0 := time.Now()
		cmd := exec.Command("bash", "scripts/images.sh")
		cmd.Dir = root
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("scripts/images.sh: %w", err)
		}
		fmt.Printf("compose suite: images built in %s\n", time.Since(t0).Round(time.Second))
	}
	b, err := os.ReadFile(filepath.Join(root, ".images.env"))
	if err != nil {
		return "", fmt.Errorf("%w (run make images)", err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.Contains(l, "=") {
			imageEnv = append(imageEnv, l)
		}
	}
	return "", nil
}

// project is one compose project of a test: its own name, so its
// containers, network and volumes are its own, and removed at cleanup.
type project struct {
	t *testing.T
	// tb is t for the checks whose failures are repeated at the very end
	// of the output, after the container logs (see recorder).
	tb      *recorder
	name    string
	files   []string
	env     []string
	cluster bool
	// natsURL and connector are the host's view of the published NATS and
	// dev connector ports (after up).
	natsURL, connector string
	// operatorSeed is the operator identity's seed file, copied out of the
	// keys service's volume (after up): NATS admits no anonymous client.
	operatorSeed string
}

// newProject prepares a project (nothing runs until up). cluster adds
// docker-compose.cluster.yml.
func newProject(t *testing.T, cluster bool) *project {
	t.Helper()
	if skipReason != "" {
		t.Skip("compose: " + skipReason)
	}
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	name := strings.ToLower(strings.NewReplacer("/", "", "_", "").Replace("rb" + t.Name()))
	p := &project{t: t, tb: &recorder{TB: t}, name: name, files: []string{"docker-compose.yml"}, cluster: cluster}
	if cluster {
		p.files = append(p.files, "docker-compose.cluster.yml")
	}
	p.env = append(append(os.Environ(), imageEnv...),
		"GATEWAY_RELAY_URL=http://devconnector:8090",
		"NATS_PORT=", "DEVCONNECTOR_PORT=", // any free host port
		"LOG_LEVEL="+cmp.Or(os.Getenv("RELAYBUS_COMPOSE_LOG_LEVEL"), "info"))
	p.compose(0, "down", "-v", "--remove-orphans") // leftovers of an interrupted run
	t.Cleanup(func() {
		if dir := os.Getenv("RELAYBUS_COMPOSE_LOGS"); dir != "" {
			p.saveLogs(dir)
		}
		if t.Failed() {
			out, _ := p.run(cmdTimeout, append(p.base(), "logs", "--no-color", "--tail", "60")...)
			t.Logf("compose logs (last lines per container):\n%s", out)
			p.tb.repeat()
		}
		p.compose(0, "down", "-v", "--remove-orphans", "-t", "5")
	})
	return p
}

// saveLogs writes the project's full container logs, with timestamps, to
// a file of its own under dir (RELAYBUS_COMPOSE_LOGS).
func (p *project) saveLogs(dir string) {
	out, err := p.run(cmdTimeout, append(p.base(), "logs", "--no-color", "-t")...)
	if err != nil {
		p.t.Logf("compose logs: %v", err)
	}
	name := filepath.Join(dir, fmt.Sprintf("%s-%s.log", p.name, time.Now().UTC().Format("20060102T150405Z")))
	if err := os.MkdirAll(dir, 0o755); err == nil {
		err = os.WriteFile(name, []byte(out), 0o644)
	}
	if err != nil {
		p.t.Logf("saving the compose logs: %v", err)
		return
	}
	p.t.Logf("full compose logs: %s", name)
}

// recorder is the test as the delivery checks see it: each failure is
// reported at once, as usual, and kept, so that it can be said again after
// the container logs, at the end of the output, which is the part of a CI
// log that is read first.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) keep(msg string) {
	r.mu.Lock()
	r.msgs = append(r.msgs, msg)
	r.mu.Unlock()
}

func (r *recorder) Errorf(format string, args ...any) {
	r.TB.Helper()
	r.keep(fmt.Sprintf(format, args...))
	r.TB.Errorf(format, args...)
}

func (r *recorder) Error(args ...any) {
	r.TB.Helper()
	r.keep(fmt.Sprint(args...))
	r.TB.Error(args...)
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.TB.Helper()
	r.keep(fmt.Sprintf(format, args...))
	r.TB.Fatalf(format, args...)
}

func (r *recorder) Fatal(args ...any) {
	r.TB.Helper()
	r.keep(fmt.Sprint(args...))
	r.TB.Fatal(args...)
}

// repeat logs the kept failures again.
func (r *recorder) repeat() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.msgs {
		r.TB.Logf("repeated after the logs: %s", m)
	}
}

func (p *project) base() []string {
	args := append([]string{}, composeCmd...)
	for _, f := range p.files {
		args = append(args, "-f", filepath.Join(root, f))
	}
	return append(args, "-p", p.name, "--profile", "dev")
}

// run runs a command within timeout (cmdTimeout when 0), returning its
// combined output.
func (p *project) run(timeout time.Duration, args ...string) (string, error) {
	if timeout == 0 {
		timeout = cmdTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = root
	cmd.Env = p.env
	out, err := cmd.CombinedOutput()
	commandsMu.Lock()
	commands = append(commands, strings.Join(args, " "))
	commandsMu.Unlock()
	return string(out), err
}

// compose runs a compose command of the project; failing is fatal.
func (p *project) compose(timeout time.Duration, args ...string) string {
	p.t.Helper()
	t0 := time.Now()
	out, err := p.run(timeout, append(p.base(), args...)...)
	p.t.Logf("$ %s %s (%s)", strings.Join(composeCmd, " "), strings.Join(args, " "), time.Since(t0).Round(100*time.Millisecond))
	if err != nil && args[0] != "down" {
		p.t.Fatalf("compose %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// docker runs a docker command; failing is fatal.
func (p *project) docker(args ...string) string {
	p.t.Helper()
	out, err := p.run(0, append([]string{"docker"}, args...)...)
	p.t.Logf("$ docker %s", strings.Join(args, " "))
	if err != nil {
		p.t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// up starts the project (detached) with extra up arguments, finds the
// published ports, and waits until the stages are registered and ws-edge
// has handshaken with the dev connector.
func (p *project) up(want map[string]int, args ...string) {
	p.t.Helper()
	p.compose(0, append([]string{"up", "-d"}, args...)...)
	p.natsURL = "nats://" + p.port("nats", 4222)
	p.copyOperatorSeed()
	if p.cluster {
		p.natsURL += ",nats://" + p.port("nats2", 4222) + ",nats://" + p.port("nats3", 4222)
	}
	p.connector = "http://" + p.port("devconnector", 8090)
	p.waitStages(want)
	p.waitHandshaken()
}

// port is the host address a service's container port is published on.
func (p *project) port(service string, port int) string {
	p.t.Helper()
	var addr string
	natstest.WaitFor(p.t, 30*time.Second, func() error {
		out, err := p.run(0, append(p.base(), "port", service, fmt.Sprint(port))...)
		addr = strings.TrimSpace(out)
		if err != nil || addr == "" || strings.HasSuffix(addr, ":0") {
			return fmt.Errorf("%s port %d: %v %s", service, port, err, addr)
		}
		return nil
	})
	return strings.Replace(addr, "0.0.0.0:", "127.0.0.1:", 1)
}

// containers are the ids of a service's containers, in replica order.
func (p *project) containers(service string) []string {
	p.t.Helper()
	return strings.Fields(p.compose(0, "ps", "-q", service))
}

// copyOperatorSeed copies the operator seed out of the (exited) keys
// container, as README's Docker compose section has an operator do
// (docker cp by container id; -a: the one-shot container has exited).
func (p *project) copyOperatorSeed() {
	p.t.Helper()
	if p.operatorSeed != "" {
		return
	}
	ids := strings.Fields(p.compose(0, "ps", "-a", "-q", "keys"))
	if len(ids) == 0 {
		p.t.Fatal("no keys container")
	}
	seed := filepath.Join(p.t.TempDir(), "operator.nk")
	p.docker("cp", ids[0]+":/data/operator.nk", seed)
	p.operatorSeed = seed
}

// connect is a NATS connection of the test to the published port, as the
// operator identity.
func (p *project) connect() (*nats.Conn, jetstream.JetStream) {
	p.t.Helper()
	auth, err := nats.NkeyOptionFromSeed(p.operatorSeed)
	if err != nil {
		p.t.Fatal(err)
	}
	nc, err := nats.Connect(p.natsURL, auth, nats.Name("compose-test"), nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true), nats.ReconnectWait(200*time.Millisecond))
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		p.t.Fatal(err)
	}
	return nc, js
}

// micro counts the NATS micro service instances answering $SRV.PING, by
// service name (what `nats micro ls` lists).
func (p *project) micro(nc *nats.Conn) map[string]int {
	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest("$SRV.PING", inbox, nil); err != nil {
		return nil
	}
	got := map[string]int{}
	for {
		m, err := sub.NextMsg(time.Second)
		if err != nil {
			return got
		}
		var ping struct{ Name, ID string }
		if json.Unmarshal(m.Data, &ping) == nil {
			got[ping.Name]++
		}
	}
}

// waitStages waits until every stage replica has registered with NATS
// (want: service name -> replicas).
func (p *project) waitStages(want map[string]int) {
	p.t.Helper()
	nc, _ := p.connect()
	var got map[string]int
	natstest.WaitFor(p.t, startTimeout, func() error {
		got = p.micro(nc)
		for name, n := range want {
			if got[name] != n {
				return fmt.Errorf("micro services %v, want %v", got, want)
			}
		}
		return nil
	})
	p.t.Logf("nats micro ls: %v", got)
}

// state is the dev connector's GET /state.
type state struct {
	Connected, Handshaken, Idle bool
	Buffered                    int
	Acked, Replayed, Dropped    uint64
	Connections, Hellos         uint64
	OutboundCount               uint64 `json:"outbound_count"`
}

func (p *project) state() (state, error) {
	var s state
	err := p.getJSON("/state", &s)
	return s, err
}

func (p *project) waitHandshaken() {
	p.t.Helper()
	natstest.WaitFor(p.t, startTimeout, func() error {
		s, err := p.state()
		if err != nil || !s.Handshaken {
			return fmt.Errorf("connector state %+v, %v; want handshaken", s, err)
		}
		return nil
	})
}

func (p *project) getJSON(path string, v any) error {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(p.connector + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func (p *project) post(path string, body []byte) error {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Post(p.connector+path, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %s: %s", path, resp.Status, b)
	}
	return nil
}

// logLines returns a service's log lines containing substr.
func (p *project) logLines(service, substr string) []string {
	p.t.Helper()
	out := p.compose(0, "logs", "--no-color", service)
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), substr) {
			lines = append(lines, sc.Text())
		}
	}
	return lines
}

// leader is the compose service of the node leading stream (the cluster's
// server names are nats1..nats3; nats1 is the service "nats").
// pipeline describes where messages wait, for a delivery that did not
// finish: each work stream's count and leader, and each of its consumers'
// pending, in-hand and redelivered counts.
func (p *project) pipeline(js jetstream.JetStream) string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var b strings.Builder
	for _, name := range []string{events.RawStream, events.InboundStream, events.OutboundStream} {
		st, err := js.Stream(ctx, name)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v; ", name, err)
			continue
		}
		info := st.CachedInfo()
		leader := "?"
		if info.Cluster != nil {
			leader = info.Cluster.Leader
		}
		fmt.Fprintf(&b, "%s: %d msgs, leader %s", name, info.State.Msgs, leader)
		cs := st.ListConsumers(ctx)
		for ci := range cs.Info() {
			fmt.Fprintf(&b, ", %s pending %d ack-pending %d redelivered %d", ci.Name, ci.NumPending, ci.NumAckPending, ci.NumRedelivered)
		}
		if err := cs.Err(); err != nil {
			fmt.Fprintf(&b, ", consumers: %v", err)
		}
		b.WriteString("; ")
	}
	return strings.TrimSuffix(b.String(), "; ")
}

func (p *project) leader(js jetstream.JetStream, stream string) string {
	p.t.Helper()
	var name string
	natstest.WaitFor(p.t, startTimeout, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, stream)
		if err != nil {
			return err
		}
		info, err := s.Info(ctx)
		if err != nil {
			return err
		}
		if info.Config.Replicas != 3 || info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) != 2 {
			return fmt.Errorf("%s: %d replicas, cluster %+v; want R3 with a leader and two peers", stream, info.Config.Replicas, info.Cluster)
		}
		name = info.Cluster.Leader
		return nil
	})
	if name == "nats1" {
		return "nats"
	}
	return name
}

func errFmt(format string, args ...any) error { return fmt.Errorf(format, args...) }
