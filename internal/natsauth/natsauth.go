// Package natsauth is relaybus's authorization on the bus: three
// identities (the stages, the agents, the operator), each an NATS user
// nkey with its own permissions, enforced by the nats-server itself (the
// all-in-one's embedded server, or the compose NATS through
// deploy/nats/nats.conf, which must grant the same sets: a test compares
// them).
//
// An identity is a user nkey: the server knows only its public key, the
// client signs the server's nonce with the seed, so no secret crosses the
// wire. [Load] finds each identity's key in the environment
// (RELAY_<IDENTITY>_NKEY: a seed file, or a public key when the process
// does not connect as that identity) or else in the credentials directory,
// generating a seed file (mode 0600) on first start and reusing it after.
//
// The permission sets, and why each subject is there, are ADR 0001 §14.
package natsauth

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// The identities.
const (
	Stage    = "stage"    // ws-edge, the converter and egress
	Agent    = "agent"    // every agent (pkg/agent, any NATS client)
	Operator = "operator" // the CLI (tail, send, dlq), monitoring, tests
)

// Identities lists the identities in a fixed order.
var Identities = []string{Stage, Agent, Operator}

// ErrInvalid classifies bad keys and key files.
var ErrInvalid = errors.New("natsauth: invalid key")

// Key is one identity's key.
type Key struct {
	// Public is the user's public nkey (U...), what the server knows.
	Public string
	// SeedFile holds the seed; empty when only the public key was given
	// (the process cannot connect as this identity).
	SeedFile string
	// Generated is true when Load created the seed file just now.
	Generated bool
}

// Keys are the identities' keys.
type Keys struct {
	Stage, Agent, Operator Key
	// AgentNames are the partitioned agents (pkg/agent Options.Partitions)
	// the agent identity may run: each may create and consume its work
	// stream RELAY_AGENT_<name> and answer its roll call
	// (RELAY_AGENT_NAMES).
	AgentNames []string
}

// Of returns the key of identity id.
func (k *Keys) Of(id string) *Key {
	switch id {
	case Stage:
		return &k.Stage
	case Agent:
		return &k.Agent
	case Operator:
		return &k.Operator
	}
	return nil
}

// EnvName is the variable that gives identity id's key:
// RELAY_STAGE_NKEY, RELAY_AGENT_NKEY, RELAY_OPERATOR_NKEY.
func EnvName(id string) string { return "RELAY_" + strings.ToUpper(id) + "_NKEY" }

// AgentNamesEnv names the partitioned agents the agent identity may run.
const AgentNamesEnv = "RELAY_AGENT_NAMES"

// Dir is the credentials directory of an all-in-one whose data directory
// (RELAY_DATA_DIR) is dataDir: dataDir/creds.
func Dir(dataDir string) string { return filepath.Join(dataDir, "creds") }

// SeedFile is where Load keeps identity id's generated seed in dir.
func SeedFile(dir, id string) string { return filepath.Join(dir, id+".nk") }

// Load returns the three identities' keys: each from its variable
// (EnvName) when set — a seed file, or a public user key —, else from its
// seed file in dir, created with a fresh seed (mode 0600, dir 0700) when
// missing. A seed file found with wider permissions is narrowed to 0600.
func Load(dir string, getenv func(string) string) (Keys, error) {
	var keys Keys
	for _, id := range Identities {
		k, err := loadOne(dir, id, strings.TrimSpace(getenv(EnvName(id))))
		if err != nil {
			return keys, err
		}
		*keys.Of(id) = k
	}
	for n := range strings.SplitSeq(getenv(AgentNamesEnv), ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if !validName(n) {
			return keys, fmt.Errorf("%w: %s: %q: use letters, digits, '-' and '_'", ErrInvalid, AgentNamesEnv, n)
		}
		keys.AgentNames = append(keys.AgentNames, n)
	}
	return keys, nil
}

func validName(n string) bool {
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return n != ""
}

func loadOne(dir, id, given string) (Key, error) {
	if given != "" {
		if nkeys.IsValidPublicUserKey(given) {
			return Key{Public: given}, nil
		}
		pub, err := PublicFromSeedFile(given)
		if err != nil {
			return Key{}, fmt.Errorf("%s: %w", EnvName(id), err)
		}
		return Key{Public: pub, SeedFile: given}, nil
	}
	path := SeedFile(dir, id)
	if fi, err := os.Stat(path); err == nil {
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(path, 0o600); err != nil {
				return Key{}, fmt.Errorf("natsauth: narrowing %s to 0600: %w", path, err)
			}
		}
		pub, err := PublicFromSeedFile(path)
		if err != nil {
			return Key{}, err
		}
		return Key{Public: pub, SeedFile: path}, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return Key{}, fmt.Errorf("natsauth: %w", err)
	}
	pub, err := Generate(path)
	if err != nil {
		return Key{}, err
	}
	return Key{Public: pub, SeedFile: path, Generated: true}, nil
}

// Generate writes a fresh user seed to path (mode 0600, its directory
// created 0700) and returns the public key. It refuses to overwrite.
func Generate(path string) (string, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return "", fmt.Errorf("natsauth: creating a user nkey: %w", err)
	}
	seed, _ := kp.Seed()
	pub, _ := kp.PublicKey()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("natsauth: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("natsauth: %w", err)
	}
	if _, err := f.Write(append(seed, '\n')); err != nil {
		f.Close()
		return "", fmt.Errorf("natsauth: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("natsauth: writing %s: %w", path, err)
	}
	return pub, nil
}

// PublicFromSeedFile reads a user seed file (the seed alone, or a .creds
// style file holding one) and returns its public key. Errors never quote
// the file's content.
func PublicFromSeedFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("natsauth: %w", err)
	}
	kp, err := nkeys.ParseDecoratedNKey(b)
	if err != nil {
		return "", fmt.Errorf("%w: %s holds no user seed", ErrInvalid, path)
	}
	defer kp.Wipe()
	pub, err := kp.PublicKey()
	if err != nil || !nkeys.IsValidPublicUserKey(pub) {
		return "", fmt.Errorf("%w: %s holds no user seed", ErrInvalid, path)
	}
	return pub, nil
}

// ConnectOption authenticates a connection with the seed file's key.
func (k Key) ConnectOption() (nats.Option, error) {
	if k.SeedFile == "" {
		return nil, fmt.Errorf("%w: no seed for public key %s (set its variable to a seed file)", ErrInvalid, k.Public)
	}
	return nats.NkeyOptionFromSeed(k.SeedFile)
}

// Users returns the server's users for keys, each with its permissions.
func Users(keys Keys) []*server.NkeyUser {
	return []*server.NkeyUser{
		{Nkey: keys.Stage.Public, Permissions: StagePermissions()},
		{Nkey: keys.Agent.Public, Permissions: AgentPermissions(keys.AgentNames...)},
		{Nkey: keys.Operator.Public, Permissions: OperatorPermissions()},
	}
}

// StagePermissions is the stages' set: everything. The three stages are
// one trust domain (ws-edge holds the connector's secret, the converter
// writes what egress trusts); what they do is theirs to do.
func StagePermissions() *server.Permissions {
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: []string{">"}},
		Subscribe: &server.SubjectPermission{Allow: []string{">"}},
	}
}

// AgentPermissions is the agents' set (ADR 0001 §14): publish actions and
// read events and results, with the JetStream API calls of their own
// durable consumers on RELAY_INBOUND (and, for each partitioned agent
// named, its work stream RELAY_AGENT_<name>), nothing else. The server
// answers anything else with a permissions violation.
func AgentPermissions(names ...string) *server.Permissions {
	pub := []string{
		"relay.outbound.>",                                // actions
		"relay.rpc.chat_info",                             // chat names (a request to ws-edge)
		"$JS.API.INFO",                                    // account JetStream info: the watch of pkg/jswatch (pkg/agent runs it)
		"$JS.API.STREAM.INFO.RELAY_INBOUND",               // a partitioned agent copies its limits
		"$JS.API.STREAM.INFO.RELAY_RESULTS",               // (and MSG.GET) a result missed while reconnecting,
		"$JS.API.STREAM.MSG.GET.RELAY_RESULTS",            // or of an action published twice
		"$JS.API.CONSUMER.CREATE.RELAY_INBOUND.>",         // its durable consumer
		"$JS.API.CONSUMER.DURABLE.CREATE.RELAY_INBOUND.*", // the same, by clients of the older API
		"$JS.API.CONSUMER.INFO.RELAY_INBOUND.*",
		"$JS.API.CONSUMER.MSG.NEXT.RELAY_INBOUND.*", // pull requests
		"$JS.ACK.RELAY_INBOUND.>",                   // acks, naks, progress
	}
	sub := []string{
		"relay.inbound.>", // events, interrupts
		"relay.results.>", // results
		"_INBOX.>",        // replies: pull deliveries, publish acks, API answers
	}
	for _, n := range names {
		ws := "RELAY_AGENT_" + n
		pub = append(pub,
			"$JS.API.STREAM.INFO."+ws,
			"$JS.API.STREAM.CREATE."+ws,
			"$JS.API.CONSUMER.CREATE."+ws+".>",
			"$JS.API.CONSUMER.INFO."+ws+".*",
			"$JS.API.CONSUMER.MSG.NEXT."+ws+".*",
			"$JS.API.CONSUMER.UNPIN."+ws+".*",
			"$JS.ACK."+ws+".>",
			"relay.members."+ws+".>", // the roll call of its replicas
		)
		sub = append(sub, "relay.members."+ws+".>")
	}
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: pub},
		Subscribe: &server.SubjectPermission{Allow: sub},
		// Answering a request (a roll call) is allowed once per request,
		// on its reply subject only.
		Response: &server.ResponsePermission{MaxMsgs: 1, Expires: time.Minute},
	}
}

// OperatorPermissions is the operator's set: read everything; publish
// anything but what only a stage may write (events, results, edge
// requests, egress's notes, roll calls, ws-edge's ack log, KV records), so that `relay dlq
// replay` and `relay send` work and a forged result or event does not.
func OperatorPermissions() *server.Permissions {
	return &server.Permissions{
		Publish: &server.SubjectPermission{
			Allow: []string{">"},
			Deny:  slices.Clone(stageOnly),
		},
		Subscribe: &server.SubjectPermission{Allow: []string{">"}},
	}
}

// stageOnly are the subjects only a stage may publish to.
var stageOnly = []string{
	"relay.inbound.>",
	"relay.results.>",
	"relay.edge.>",
	"relay.egress.>",
	"relay.members.>",
	// ws-edge's ack log: a forged batch would make ws-edge ack (and drop)
	// a replayed frame it never stored.
	"relay.acklog.>",
	"$KV.>",
}

// ServerConf renders a nats-server configuration file granting keys'
// users their permissions (the embedded server's, partitioned agents
// included), with the relay's 8 MiB max_payload: what `relay keys` writes
// for a server of one's own (compose: nats-server -c DIR/nats-auth.conf
// -js ...). It holds public keys only.
func ServerConf(keys Keys) string {
	var b strings.Builder
	b.WriteString("# Generated by `relay keys` from internal/natsauth: relaybus's identities and\n")
	b.WriteString("# permissions (ADR 0001 §14). Public keys only. Regenerate, do not edit.\n")
	b.WriteString("max_payload: 8MB\n\nauthorization {\n  users: [\n")
	for i, u := range Users(keys) {
		fmt.Fprintf(&b, "    # %s\n    {\n      nkey: %q\n      permissions: {\n", Identities[i], u.Nkey)
		p := u.Permissions
		writeSubjects(&b, "publish", p.Publish)
		writeSubjects(&b, "subscribe", p.Subscribe)
		if r := p.Response; r != nil {
			fmt.Fprintf(&b, "        allow_responses: { max: %d, expires: %q }\n", r.MaxMsgs, r.Expires.String())
		}
		b.WriteString("      }\n    }\n")
	}
	b.WriteString("  ]\n}\n")
	return b.String()
}

func writeSubjects(b *strings.Builder, name string, sp *server.SubjectPermission) {
	if sp == nil {
		return
	}
	quote := func(subjects []string) string {
		q := make([]string, len(subjects))
		for i, s := range subjects {
			q[i] = fmt.Sprintf("%q", s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	fmt.Fprintf(b, "        %s: {\n          allow: %s\n", name, quote(sp.Allow))
	if len(sp.Deny) > 0 {
		fmt.Fprintf(b, "          deny: %s\n", quote(sp.Deny))
	}
	b.WriteString("        }\n")
}
