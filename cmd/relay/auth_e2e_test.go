package main_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/natsauth"
)

// TestAuthOnTheBus runs the all-in-one binary with its default
// authorization: the seeds are generated 0600 and reused on restart, never
// logged; an anonymous client is refused; with the agent's seed (the one
// the banner names) a client cannot forge a raw frame, an edge request, a
// result or a scope, while chat messages posted between the attempts are
// all answered by the echo agent, which runs under the same identity; and
// the operator's CLI reads the events (relay tail) and the dead letters.
func TestAuthOnTheBus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the relay binary")
	}
	data := t.TempDir()
	p := startRelay(t, data)
	creds := filepath.Join(data, "creds")
	seeds := map[string][]byte{}
	for _, id := range natsauth.Identities {
		f := natsauth.SeedFile(creds, id)
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatalf("%s seed: %v", id, err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, fi.Mode().Perm())
		}
		if seeds[id], err = os.ReadFile(f); err != nil {
			t.Fatal(err)
		}
	}

	if nc, err := nats.Connect(p.natsURL, nats.NoReconnect()); err == nil {
		nc.Close()
		t.Error("an anonymous client was accepted")
	}

	var mu sync.Mutex
	var violations []string
	agentNC, err := nats.Connect(p.natsURL, p.as(t, natsauth.Agent), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		mu.Lock()
		violations = append(violations, err.Error())
		mu.Unlock()
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer agentNC.Close()
	js, _ := jetstream.New(agentNC)
	opNC, err := nats.Connect(p.natsURL, p.as(t, natsauth.Operator))
	if err != nil {
		t.Fatal(err)
	}
	defer opNC.Close()
	forged, _ := opNC.SubscribeSync("relay.results.forged")
	_ = opNC.Flush()

	attempt := func(ctx context.Context, i int) error {
		switch i % 4 {
		case 0:
			_, err := js.Publish(ctx, "relay.raw.inbound.c-evil", []byte(`{"type":"inbound","event":{"text":"forged","source":{"platform":"discord","chat_id":"c-evil","chat_type":"dm"}}}`))
			return err
		case 1:
			_, err := agentNC.Request("relay.edge.outbound", []byte(`{"type":"outbound","requestId":"x","action":{"op":"send","chat_id":"c-evil","content":"forged"}}`), 500*time.Millisecond)
			return err
		case 2:
			_, err := js.Publish(ctx, "relay.results.forged", []byte(`{"success":true}`))
			return err
		default:
			_, err := js.Publish(ctx, "$KV.relay_scope.discord.c-evil", []byte(`{}`))
			return err
		}
	}
	const n = 8
	for i := range n {
		post(t, "http://"+p.dev+"/inbound", "application/json",
			fmt.Appendf(nil, `{"text":"msg %d","message_id":"m%d","source":{"platform":"discord","chat_id":"c-ok","chat_type":"dm","user_id":"u1"}}`, i, i))
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		if err := attempt(ctx, i); err == nil {
			t.Errorf("attempt %d succeeded", i)
		}
		cancel()
	}
	recs := outbound(t, p, n)
	for _, r := range recs {
		if r.Action["chat_id"] != "c-ok" || r.Result["success"] != true {
			t.Errorf("unexpected outbound %v → %v", r.Action, r.Result)
		}
	}
	time.Sleep(200 * time.Millisecond) // a forged frame would have been answered by now
	if recs = outbound(t, p, n); len(recs) != n {
		t.Errorf("%d outbound frames, want %d (a forged one went through?)", len(recs), n)
	}
	mu.Lock()
	got := slices.Clone(violations)
	mu.Unlock()
	for _, s := range []string{"relay.raw.inbound.c-evil", "relay.edge.outbound", "relay.results.forged", "$KV.relay_scope.discord.c-evil"} {
		found := false
		for _, v := range got {
			found = found || strings.Contains(v, `Publish to "`+s+`"`)
		}
		if !found {
			t.Errorf("no permissions violation for %s; got %q", s, got)
		}
	}
	if m, err := forged.NextMsg(100 * time.Millisecond); err == nil {
		t.Errorf("forged result delivered: %s", m.Data)
	}

	// The operator: relay tail and relay dlq (the CLI finds its key in
	// RELAY_DATA_DIR).
	if out := p.cli(t, "tail", "--all", "--n", "1", "--chat", "c-ok"); !strings.Contains(out, `"text":"msg 0"`) {
		t.Errorf("relay tail printed %q", out)
	}
	p.cli(t, "dlq", "list")

	// Restart: the same keys, no new seed; none ever logged.
	p.stop(t)
	out1 := p.out.String() // (written no more)
	if !strings.Contains(out1, "NATS_NKEY="+natsauth.SeedFile(creds, natsauth.Agent)) {
		t.Errorf("the dev banner does not name the agent's seed file:\n%s", out1)
	}
	p2 := startRelay(t, data) // ready: its stages connected with the stage seed
	if nc, err := nats.Connect(p2.natsURL, p2.as(t, natsauth.Agent)); err != nil {
		t.Errorf("the agent's seed after a restart: %v", err)
	} else {
		nc.Close()
	}
	p2.stop(t)
	out2 := p2.out.String()
	for _, id := range natsauth.Identities {
		b, err := os.ReadFile(natsauth.SeedFile(creds, id))
		if err != nil || !bytes.Equal(b, seeds[id]) {
			t.Errorf("%s seed changed across a restart (%v)", id, err)
		}
		seed := strings.TrimSpace(string(seeds[id]))
		if strings.Contains(out1, seed) || strings.Contains(out2, seed) {
			t.Errorf("the %s seed is in the logs", id)
		}
	}
	if !strings.Contains(out2, "generated=false") {
		t.Errorf("the restart did not log its identities as reused:\n%s", out2)
	}
}

// TestNoAuthBeyondLoopbackExits runs the binary as an operator would get it
// wrong: it exits at once, naming the way out.
func TestNoAuthBeyondLoopbackExits(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the relay binary")
	}
	cmd := exec.Command(relayBin)
	cmd.Env = append(os.Environ(), "RELAY_NATS_AUTH=0", "RELAY_NATS_LISTEN=0.0.0.0:0", "RELAY_DATA_DIR="+t.TempDir(),
		"RELAY_HTTP_ADDR=127.0.0.1:0", "GATEWAY_RELAY_URL=ws://127.0.0.1:1/relay")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !strings.Contains(string(out), "--allow-insecure") {
		t.Errorf("relay = %v, %s; want a non-zero exit naming --allow-insecure", err, out)
	}
}

// TestNoAuthAllowedInsecureWarns: told it may, the all-in-one listens
// beyond loopback without authorization, and says so loudly.
func TestNoAuthAllowedInsecureWarns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the relay binary")
	}
	_, port, _ := net.SplitHostPort(freeAddr(t))
	cmd := exec.Command(relayBin, "--allow-insecure")
	cmd.Env = append(os.Environ(), "RELAY_NATS_AUTH=0", "RELAY_NATS_LISTEN=0.0.0.0:"+port, "RELAY_DATA_DIR="+t.TempDir(),
		"RELAY_HTTP_ADDR="+freeAddr(t), "GATEWAY_RELAY_URL=ws://127.0.0.1:1/relay", "LOG_FORMAT=text")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	warned := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			if !once && strings.Contains(sc.Text(), "ACCEPTS ANYONE") {
				once = true
				close(warned)
			}
		}
	}()
	select {
	case <-warned:
	case <-time.After(60 * time.Second):
		t.Fatal("no warning on stderr within 60s")
	}
	waitFor(t, 30*time.Second, func() error {
		nc, err := nats.Connect("nats://127.0.0.1:"+port, nats.NoReconnect())
		if err != nil {
			return err
		}
		nc.Close()
		return nil
	})
}
