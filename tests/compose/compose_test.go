package compose

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
)

// Stage service names as NATS micro lists them.
const (
	microEdge      = "relay-ws-edge"
	microConverter = "relay-passthrough-converter"
	microEgress    = "relay-egress"
)

func stages(edge, converters, egress int) map[string]int {
	return map[string]int{microEdge: edge, microConverter: converters, microEgress: egress}
}

// midStream sends n messages over chats chats, one every interval (see
// [send]), runs fault once after of them are sent, then checks the traffic
// ([traffic.check], per-chat order as order says).
func midStream(t *testing.T, p *project, prefix string, n, chats int, interval time.Duration, after int, order ordered, fault func()) {
	t.Helper()
	t0 := time.Now()
	tr := send(p, prefix, n, chats, interval)
	tr.waitSent(t, after)
	fault()
	tr.check(t, p, t0, order)
}

// TestDevLoop: docker compose --profile dev up runs everything; a Discord
// fixture POSTed to the dev connector is answered by the echo agent, and so
// is every chat message. Then docker compose stop, mid-stream, drains each
// stage well within its stop_grace_period (exit 0, not the grace period's
// SIGKILL; ws-edge says going_idle), and once they are started again
// nothing posted meanwhile is lost or duplicated.
func TestDevLoop(t *testing.T) {
	p := newProject(t, false)
	start := time.Now()
	p.up(stages(1, 1, 1))
	t.Logf("up and handshaken in %s", time.Since(start).Round(time.Second))

	// NATS runs with authorization (the keys service's nats-auth.conf): an
	// anonymous client is refused.
	if nc, err := nats.Connect(p.natsURL, nats.Timeout(5*time.Second)); err == nil {
		nc.Close()
		t.Error("an anonymous client connected to the compose NATS")
	} else if !errors.Is(err, nats.ErrAuthorization) && !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Errorf("anonymous connect: %v, want an authorization violation", err)
	} else {
		t.Logf("anonymous connect refused: %v", err)
	}

	fixture, err := os.ReadFile(filepath.Join(root, "internal/fixtures/discord/02_slash_command_options.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.post("/interactions", fixture); err != nil {
		t.Fatal(err)
	}
	natstest.WaitFor(t, deliverTimeout, func() error {
		var recs []outboundRecord
		if err := p.getJSON("/outbound", &recs); err != nil {
			return err
		}
		for _, r := range recs {
			if c, _ := r.Action["content"].(string); strings.HasPrefix(c, "you ran /") {
				t.Logf("the echo agent answered the slash command: %q (result %v)", c, r.Result)
				return nil
			}
		}
		return errFmt("no answer to the slash command among %d outbound frames", len(recs))
	})

	t0 := time.Now()
	tr := send(p, "dev", 200, 8, 10*time.Millisecond)
	tr.check(t, p, t0, inOrder)

	// Graceful stop, mid-stream.
	ids := map[string]string{}
	for _, svc := range []string{"ws-edge", "passthrough-converter", "egress"} {
		ids[svc] = p.containers(svc)[0]
	}
	t0 = time.Now()
	tr = send(p, "stop", 600, 8, 10*time.Millisecond)
	tr.waitSent(t, 150)
	t1 := time.Now()
	p.compose(time.Minute, "stop", "ws-edge", "passthrough-converter", "egress")
	took := time.Since(t1)
	t.Logf("docker compose stop of the three stages, mid-stream, took %s (stop_grace_period 30s)", took.Round(100*time.Millisecond))
	if took > 30*time.Second {
		t.Errorf("stop took %s, more than the stop_grace_period", took)
	}
	for svc, id := range ids {
		if code := strings.TrimSpace(p.docker("inspect", "-f", "{{.State.ExitCode}}", id)); code != "0" {
			t.Errorf("%s exited %s after SIGTERM, want 0 (a drained stop, not the grace period's SIGKILL)", svc, code)
		}
	}
	if lines := p.logLines("ws-edge", "going idle"); len(lines) == 0 {
		t.Error("ws-edge did not log going idle on its way out")
	}
	p.compose(0, "start", "ws-edge", "passthrough-converter", "egress")
	tr.check(t, p, t0, inOrder)
}

// TestScaled: three converters and three egress, every replica registered;
// per-chat order, nothing lost or duplicated.
func TestScaled(t *testing.T) {
	p := newProject(t, false)
	p.up(stages(1, 3, 3), "--scale", "passthrough-converter=3", "--scale", "egress=3")
	t0 := time.Now()
	tr := send(p, "scaled", 1000, 32, 5*time.Millisecond)
	tr.check(t, p, t0, inOrder)
}

// TestKillReplicas: docker kill -s KILL of one converter and one egress
// replica mid-stream; the others carry on.
func TestKillReplicas(t *testing.T) {
	p := newProject(t, false)
	p.up(stages(1, 3, 3), "--scale", "passthrough-converter=3", "--scale", "egress=3")
	midStream(t, p, "kill", 1000, 32, 10*time.Millisecond, 300, anyOrder, func() {
		p.docker("kill", "-s", "KILL", p.containers("passthrough-converter")[1])
		p.docker("kill", "-s", "KILL", p.containers("egress")[1])
	})
}

// TestRollingRestart: each stage recreated in turn mid-stream, the way a
// new version is rolled out.
func TestRollingRestart(t *testing.T) {
	p := newProject(t, false)
	p.up(stages(1, 1, 1))
	midStream(t, p, "roll", 900, 16, 20*time.Millisecond, 100, anyOrder, func() {
		for _, svc := range []string{"ws-edge", "passthrough-converter", "egress"} {
			p.compose(0, "up", "-d", "--no-deps", "--force-recreate", svc)
		}
	})
}

// TestNATSRestart: the single NATS server restarted mid-stream. The events
// and the replies stay in chat order: the converter's partitions, egress's
// and the echo agent's (ECHO_AGENT_PARTITIONS in docker-compose.yml) wait
// for what the server's shutdown lost in flight
// (docs/adr/0001-bus-contract.md §13, "After a NATS fault").
func TestNATSRestart(t *testing.T) {
	p := newProject(t, false)
	p.up(stages(1, 1, 1))
	midStream(t, p, "natsrestart", 900, 16, 10*time.Millisecond, 200, inOrder, func() {
		p.compose(0, "restart", "nats")
	})
}

// TestClusterKillNode: on the three-node cluster (streams R3), the node
// leading RELAY_RAW (where ws-edge publishes) killed mid-stream; brought back
// at the end. Events and replies stay in chat order.
func TestClusterKillNode(t *testing.T) {
	p := newProject(t, true)
	p.up(stages(1, 1, 1))
	_, js := p.connect()
	node := p.leader(js, events.RawStream)
	t.Logf("killing %s, the leader of %s", node, events.RawStream)
	midStream(t, p, "clusterkill", 900, 16, 10*time.Millisecond, 200, inOrder, func() {
		p.docker("kill", "-s", "KILL", p.containers(node)[0])
	})
	p.compose(0, "start", node)
}

// TestClusterPartition: on the cluster, the node leading RELAY_OUTBOUND
// (where agents' replies go) cut off from the network mid-stream, then
// reconnected. Events and replies stay in chat order.
func TestClusterPartition(t *testing.T) {
	p := newProject(t, true)
	p.up(stages(1, 1, 1))
	_, js := p.connect()
	svc := p.leader(js, events.OutboundStream)
	node := p.containers(svc)[0]
	network := strings.Fields(p.docker("inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", node))[0]
	t.Logf("cutting off %s, the leader of %s", svc, events.OutboundStream)
	midStream(t, p, "partition", 900, 16, 10*time.Millisecond, 200, inOrder, func() {
		p.docker("network", "disconnect", network, node)
		time.Sleep(10 * time.Second)
		p.docker("network", "connect", "--alias", svc, network, node)
	})
}
