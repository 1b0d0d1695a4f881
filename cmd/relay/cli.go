package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/devconnector"
	"github.com/relaybus/relaybus/internal/logging"
	"github.com/relaybus/relaybus/internal/natsauth"
	"github.com/relaybus/relaybus/internal/natsconn"
	"github.com/relaybus/relaybus/pkg/events"
)

// cliConnect connects a CLI subcommand to NATS_URL (default the all-in-one's
// listener), failing fast instead of retrying forever. Without credentials
// of its own (NATS_CREDS, NATS_NKEY, NATS_TLS_CERT) it uses the operator's
// seed the all-in-one generated in RELAY_DATA_DIR (default ./data), when
// that file is there and readable.
func cliConnect(getenv func(string) string) (*nats.Conn, jetstream.JetStream, error) {
	cfg := natsconn.FromEnv(getenv)
	if !cfg.Authenticated() {
		seed := natsauth.SeedFile(natsauth.Dir(envOr(getenv, "RELAY_DATA_DIR", "./data")), natsauth.Operator)
		if f, err := os.Open(seed); err == nil {
			f.Close()
			cfg.NKey = seed
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	opts := []nats.Option{nats.Name("relay-cli"), nats.Timeout(5 * time.Second), nats.CustomInboxPrefix(natsconn.InboxPrefix)}
	nc, err := nats.Connect(cfg.URL, append(opts, cfg.AuthOptions()...)...)
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to %s (is relay running? set NATS_URL): %w", natsconn.RedactURL(cfg.URL), natsconn.RedactError(err))
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

func newFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s\n\nflags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// runTail prints inbound events (and interrupts) as JSON lines.
func runTail(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("tail", "relay tail [--platform P] [--chat C] [--interrupts] [--all] [--n N]", stderr)
	platform := fs.String("platform", "", "only this platform")
	chat := fs.String("chat", "", "only this chat id")
	interrupts := fs.Bool("interrupts", false, "also print interrupts")
	all := fs.Bool("all", false, "start from the oldest stored event instead of new ones")
	limit := fs.Int("n", 0, "exit after N events (0: run until Ctrl-C)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	nc, js, err := cliConnect(getenv)
	if err != nil {
		return err
	}
	defer nc.Close()
	tok := func(v string) string {
		if v == "" {
			return "*"
		}
		return events.SubjectToken(v)
	}
	filters := []string{"relay.inbound.message." + tok(*platform) + "." + tok(*chat)}
	if *interrupts {
		filters = append(filters, "relay.inbound.interrupt."+tok(*platform)+"."+tok(*chat))
	}
	occ := jetstream.OrderedConsumerConfig{FilterSubjects: filters, DeliverPolicy: jetstream.DeliverNewPolicy}
	if *all {
		occ.DeliverPolicy = jetstream.DeliverAllPolicy
	}
	cons, err := js.OrderedConsumer(ctx, events.InboundStream, occ)
	if err != nil {
		return fmt.Errorf("subscribing to %s: %w", events.InboundStream, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	enc := json.NewEncoder(stdout)
	for n := 0; *limit == 0 || n < *limit; n++ {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return err
		}
		out := map[string]any{"subject": m.Subject()}
		ct := m.Headers().Get(events.ContentTypeHeader)
		if strings.HasPrefix(m.Subject(), "relay.inbound.interrupt.") {
			var it events.Interrupt
			if err := events.Unmarshal(m.Data(), ct, &it); err != nil {
				out["error"] = err.Error()
			}
			out["interrupt"] = it
		} else {
			var ev events.MessageEvent
			if err := events.Unmarshal(m.Data(), ct, &ev); err != nil {
				out["error"] = err.Error()
			}
			out["event"] = ev
		}
		if err := enc.Encode(out); err != nil {
			return err
		}
	}
	return nil
}

// runSend publishes one action and prints its result.
func runSend(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("send", `relay send --chat C --content TEXT [--op send] [flags]
       relay send --json '{"op":"send","chat_id":"c1","content":"hi"}'`, stderr)
	op := fs.String("op", events.OpSend, "action op: send, follow_up, edit, typing, delete, react, interrupt")
	chat := fs.String("chat", "", "chat_id")
	content := fs.String("content", "", "content")
	replyTo := fs.String("reply-to", "", "reply_to message id (send)")
	messageID := fs.String("message-id", "", "message_id (edit, delete, react)")
	sessionKey := fs.String("session-key", "", "session_key (follow_up, interrupt)")
	emoji := fs.String("emoji", "", "emoji (react)")
	platform := fs.String("platform", "", "fronted identity's platform (optional)")
	raw := fs.String("json", "", "the whole action as JSON (overrides the other flags)")
	id := fs.String("id", "", "action id (Nats-Msg-Id); default a fresh one")
	wait := fs.Duration("wait", 40*time.Second, "how long to wait for the result (0: do not wait)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var body []byte
	var opName, actionChat string
	if *raw != "" {
		a, err := events.DecodeAction([]byte(*raw), events.ContentTypeJSON, "")
		if err != nil {
			return fmt.Errorf("--json: %w", err)
		}
		opName, body, actionChat = a.Op, []byte(*raw), events.ActionChat(&a)
	} else {
		a := events.Action{Op: *op, ChatID: *chat, Content: *content, MessageID: *messageID, SessionKey: *sessionKey, Emoji: *emoji, Platform: *platform}
		if *replyTo != "" {
			a.ReplyTo = replyTo
		}
		if a.Op == events.OpFollowUp {
			a.Kind = events.FollowUpKindDiscord
		}
		if err := a.Validate(); err != nil {
			return err
		}
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		opName, body, actionChat = a.Op, b, events.ActionChat(&a)
	}
	nc, js, err := cliConnect(getenv)
	if err != nil {
		return err
	}
	defer nc.Close()
	if *id == "" {
		*id = "cli-" + randomHex(12)
	}
	var sub *nats.Subscription
	if *wait > 0 {
		if sub, err = nc.SubscribeSync(events.ResultsSubject(*id)); err != nil {
			return err
		}
		defer sub.Unsubscribe()
	}
	m := nats.NewMsg(events.OutboundChatSubject(opName, actionChat))
	if actionChat != "" {
		m.Header.Set(events.ChatHeader, events.SubjectToken(actionChat))
	}
	m.Data = body
	m.Header.Set(events.ContentTypeHeader, events.ContentTypeJSON)
	m.Header.Set(events.MsgIDHeader, *id)
	if _, err := js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("publishing to %s: %w", m.Subject, err)
	}
	fmt.Fprintf(stderr, "published %s action %s\n", opName, *id)
	if sub == nil {
		return nil
	}
	rm, err := sub.NextMsgWithContext(withTimeout(ctx, *wait))
	if err != nil {
		return fmt.Errorf("no result within %v (is egress running?): %w", *wait, err)
	}
	var res events.SendResult
	if err := events.Unmarshal(rm.Data, rm.Header.Get(events.ContentTypeHeader), &res); err != nil {
		return err
	}
	out, _ := json.Marshal(res)
	fmt.Fprintln(stdout, string(out))
	if !res.Success {
		return fmt.Errorf("action failed: %s", res.Error)
	}
	return nil
}

func withTimeout(ctx context.Context, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(ctx, d)
	context.AfterFunc(c, cancel)
	return c
}

// runDLQ lists, shows, replays or purges dead letters.
func runDLQ(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	usage := `relay dlq list [--stage S]
       relay dlq show SEQ
       relay dlq replay SEQ | --all [--stage S]
       relay dlq purge [--stage S]`
	if len(args) == 0 {
		fmt.Fprintf(stderr, "usage: %s\n", usage)
		return flag.ErrHelp
	}
	cmd := args[0]
	fs := newFlags("dlq "+cmd, usage, stderr)
	stage := fs.String("stage", "", "only dead letters of this stage (ws-edge, converter, egress)")
	all := fs.Bool("all", false, "replay every (matching) dead letter")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	nc, js, err := cliConnect(getenv)
	if err != nil {
		return err
	}
	defer nc.Close()
	stream, err := js.Stream(ctx, events.DLQStream)
	if err != nil {
		return fmt.Errorf("opening %s: %w", events.DLQStream, err)
	}
	subject := events.DLQSubjects
	if *stage != "" {
		subject = events.DLQSubject(*stage)
	}
	list := func(fn func(*jetstream.RawStreamMsg) error) error {
		info, err := stream.Info(ctx, jetstream.WithSubjectFilter(subject))
		if err != nil {
			return err
		}
		if info.State.Msgs == 0 {
			return nil
		}
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
			m, err := stream.GetMsg(ctx, seq)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if *stage != "" && m.Subject != subject {
				continue
			}
			if err := fn(m); err != nil {
				return err
			}
		}
		return nil
	}
	replay := func(m *jetstream.RawStreamMsg) error {
		target := m.Header.Get(events.SubjectHeader)
		if target == "" {
			return fmt.Errorf("dead letter %d has no %s header", m.Sequence, events.SubjectHeader)
		}
		out := nats.NewMsg(target)
		out.Data = m.Data
		for k, v := range m.Header {
			switch k {
			case events.ErrorHeader, events.ErrorCodeHeader, events.StageHeader, events.SubjectHeader, events.MsgIDHeader:
				continue
			}
			out.Header[k] = v
		}
		out.Header.Set(events.MsgIDHeader, "replay:"+strconv.FormatUint(m.Sequence, 10)+":"+randomHex(4))
		if _, err := js.PublishMsg(ctx, out); err != nil {
			return fmt.Errorf("replaying %d to %s: %w", m.Sequence, target, err)
		}
		if err := stream.DeleteMsg(ctx, m.Sequence); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "replayed %d to %s\n", m.Sequence, target)
		return nil
	}
	switch cmd {
	case "list":
		return list(func(m *jetstream.RawStreamMsg) error {
			fmt.Fprintf(stdout, "%d\t%s\t%s\t%s\t%s\n", m.Sequence, m.Time.UTC().Format(time.RFC3339),
				m.Header.Get(events.StageHeader), m.Header.Get(events.ErrorCodeHeader), m.Header.Get(events.ErrorHeader))
			return nil
		})
	case "show":
		seq, err := strconv.ParseUint(fs.Arg(0), 10, 64)
		if err != nil {
			return fmt.Errorf("dlq show: want a sequence number, got %q", fs.Arg(0))
		}
		m, err := stream.GetMsg(ctx, seq)
		if err != nil {
			return err
		}
		out := map[string]any{"seq": m.Sequence, "subject": m.Subject, "time": m.Time.UTC(), "headers": m.Header, "data": string(m.Data)}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case "replay":
		if *all {
			return list(replay)
		}
		seq, err := strconv.ParseUint(fs.Arg(0), 10, 64)
		if err != nil {
			return fmt.Errorf("dlq replay: want a sequence number or --all, got %q", fs.Arg(0))
		}
		m, err := stream.GetMsg(ctx, seq)
		if err != nil {
			return err
		}
		return replay(m)
	case "purge":
		opts := []jetstream.StreamPurgeOpt{}
		if *stage != "" {
			opts = append(opts, jetstream.WithPurgeSubject(subject))
		}
		if err := stream.Purge(ctx, opts...); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "purged")
		return nil
	}
	fmt.Fprintf(stderr, "usage: %s\n", usage)
	return flag.ErrHelp
}

// runDevConnector runs the dev connector on its own.
func runDevConnector(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("devconnector", "relay devconnector [--addr host:port] [--gateway id:secret]", stderr)
	addr := fs.String("addr", envOr(getenv, "RELAY_DEV_CONNECTOR_ADDR", "127.0.0.1:8090"), "listen address")
	gw := fs.String("gateway", "", "require this gateway's token (id:secret); default: accept unauthenticated dials")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := logging.New(stdout, getenv)
	if err != nil {
		return err
	}
	cfg := devconnector.Config{Addr: *addr, Log: log.With("service", "devconnector")}
	if *gw != "" {
		id, secret, ok := strings.Cut(*gw, ":")
		if !ok || id == "" || strings.TrimSpace(secret) == "" {
			return fmt.Errorf("--gateway=%q: want id:secret", *gw)
		}
		cfg.Gateways = map[string]string{id: secret}
	}
	dev, err := devconnector.New(cfg)
	if err != nil {
		return err
	}
	if err := dev.Start(); err != nil {
		return err
	}
	defer dev.Close()
	fmt.Fprintf(stderr, "dev connector listening on %s (point GATEWAY_RELAY_URL at it)\n", dev.URL())
	<-ctx.Done()
	return nil
}

// runKeys writes the three NATS identities' seeds into a directory (mode
// 0600; kept when there, given ones taken from RELAY_<ID>_NKEY like the
// all-in-one does), DIR/nats.env with their public keys (the variables
// deploy/nats/nats.conf reads) and DIR/nats-auth.conf, a server
// configuration with the users and their permissions (RELAY_AGENT_NAMES'
// partitioned agents included).
func runKeys(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("keys", "relay keys DIR", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return flag.ErrHelp
	}
	dir := fs.Arg(0)
	keys, err := natsauth.Load(dir, getenv)
	if err != nil {
		return err
	}
	var env strings.Builder
	for _, id := range natsauth.Identities {
		k := keys.Of(id)
		fmt.Fprintf(&env, "%s_PUBLIC=%s\n", natsauth.EnvName(id), k.Public)
		state := "kept"
		if k.Generated {
			state = "generated"
		}
		seed := k.SeedFile
		if seed == "" {
			seed = "(public key given: no seed here)"
		}
		fmt.Fprintf(stdout, "%-9s %s  %s (%s)\n", id, k.Public, seed, state)
	}
	envFile := filepath.Join(dir, "nats.env")
	if err := os.WriteFile(envFile, []byte(env.String()), 0o644); err != nil {
		return err
	}
	confFile := filepath.Join(dir, "nats-auth.conf")
	if err := os.WriteFile(confFile, []byte(natsauth.ServerConf(keys)), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "public keys for deploy/nats/nats.conf: %s\n", envFile)
	fmt.Fprintf(stdout, "or a whole server configuration:         nats-server -c %s -js\n", confFile)
	return nil
}
