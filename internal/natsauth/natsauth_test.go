package natsauth_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/relaybus/relaybus/internal/natsauth"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadGeneratesOnceAndReuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "creds")
	first, err := natsauth.Load(dir, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range natsauth.Identities {
		k := first.Of(id)
		if !k.Generated || !nkeys.IsValidPublicUserKey(k.Public) || k.SeedFile != natsauth.SeedFile(dir, id) {
			t.Errorf("%s: %+v, want a generated user key in %s", id, k, natsauth.SeedFile(dir, id))
		}
		fi, err := os.Stat(k.SeedFile)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s: mode %v, want 0600", k.SeedFile, got)
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("%s: mode %v, want 0700", dir, fi.Mode().Perm())
	}
	if first.Stage.Public == first.Agent.Public || first.Agent.Public == first.Operator.Public {
		t.Error("identities share a key")
	}
	// A seed file someone widened is narrowed again.
	if err := os.Chmod(first.Agent.SeedFile, 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := natsauth.Load(dir, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range natsauth.Identities {
		if a, f := again.Of(id), first.Of(id); a.Generated || a.Public != f.Public {
			t.Errorf("restart: %s is %+v, want %s reused", id, a, f.Public)
		}
	}
	if fi, _ := os.Stat(first.Agent.SeedFile); fi.Mode().Perm() != 0o600 {
		t.Errorf("widened seed file left at %v, want 0600", fi.Mode().Perm())
	}
}

func TestLoadGivenGeneratesNothing(t *testing.T) {
	given := t.TempDir()
	stageSeed := filepath.Join(given, "stage.nk")
	stagePub, err := natsauth.Generate(stageSeed)
	if err != nil {
		t.Fatal(err)
	}
	kp, _ := nkeys.CreateUser()
	agentPub, _ := kp.PublicKey()
	opSeed, _ := kp.Seed() // the operator's key, as a file of another layout
	opFile := filepath.Join(given, "op.nk")
	if err := os.WriteFile(opFile, []byte("-----BEGIN USER NKEY SEED-----\n"+string(opSeed)+"\n------END USER NKEY SEED------\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "creds")
	keys, err := natsauth.Load(dir, env(map[string]string{
		"RELAY_STAGE_NKEY":    stageSeed,
		"RELAY_AGENT_NKEY":    agentPub,
		"RELAY_OPERATOR_NKEY": opFile,
		"RELAY_AGENT_NAMES":   " a, b_2 ,",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := natsauth.Keys{
		Stage:      natsauth.Key{Public: stagePub, SeedFile: stageSeed},
		Agent:      natsauth.Key{Public: agentPub},
		Operator:   natsauth.Key{Public: agentPub, SeedFile: opFile},
		AgentNames: []string{"a", "b_2"},
	}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("credentials dir created although every key was given: %v", err)
	}
	if _, err := keys.Agent.ConnectOption(); !errors.Is(err, natsauth.ErrInvalid) {
		t.Errorf("ConnectOption of a public key = %v, want ErrInvalid", err)
	}
}

func TestLoadRefusesBadKeys(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.nk")
	const secretish = "SUAMNOTASEEDBUTMAYBESECRET"
	if err := os.WriteFile(bad, []byte(secretish), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, e := range map[string]map[string]string{
		"ErrInvalidSeedFile": {"RELAY_AGENT_NKEY": bad},
		"ErrMissingFile":     {"RELAY_STAGE_NKEY": bad + ".missing"},
		"ErrAccountKey":      {"RELAY_OPERATOR_NKEY": "AAMNOTAUSERKEY"},
		"ErrAgentName":       {"RELAY_AGENT_NAMES": "a.b"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := natsauth.Load(t.TempDir(), env(e))
			if err == nil {
				t.Fatal("Load = nil, want an error")
			}
			if strings.Contains(err.Error(), secretish) {
				t.Errorf("error quotes the file: %v", err)
			}
		})
	}
}

// TestConfMatchesPermissions keeps deploy/nats/nats.conf, the compose
// server's authorization, equal to the embedded server's.
func TestConfMatchesPermissions(t *testing.T) {
	pubs := map[string]string{}
	for _, id := range natsauth.Identities {
		kp, _ := nkeys.CreateUser()
		pub, _ := kp.PublicKey()
		pubs[id] = pub
		t.Setenv(natsauth.EnvName(id)+"_PUBLIC", pub)
	}
	opts, err := server.ProcessConfigFile("../../deploy/nats/nats.conf")
	if err != nil {
		t.Fatal(err)
	}
	keys := natsauth.Keys{Stage: natsauth.Key{Public: pubs[natsauth.Stage]}, Agent: natsauth.Key{Public: pubs[natsauth.Agent]},
		Operator: natsauth.Key{Public: pubs[natsauth.Operator]}}
	want := natsauth.Users(keys)
	if len(opts.Nkeys) != len(want) {
		t.Fatalf("nats.conf has %d users, want %d", len(opts.Nkeys), len(want))
	}
	for i, u := range opts.Nkeys {
		if u.Nkey != want[i].Nkey {
			t.Errorf("user %d: nkey %s, want %s", i, u.Nkey, want[i].Nkey)
		}
		if diff := cmp.Diff(want[i].Permissions, u.Permissions); diff != "" {
			t.Errorf("user %d (%s) permissions (-natsauth +nats.conf):\n%s", i, natsauth.Identities[i], diff)
		}
	}
	if opts.MaxPayload != 8<<20 {
		t.Errorf("max_payload %d, want the embedded server's 8 MiB", opts.MaxPayload)
	}
}

// TestServerConf: the configuration `relay keys` writes grants exactly
// the embedded server's users, partitioned agents included.
func TestServerConf(t *testing.T) {
	keys, err := natsauth.Load(t.TempDir(), env(map[string]string{"RELAY_AGENT_NAMES": "a,b"}))
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "nats-auth.conf")
	if err := os.WriteFile(conf, []byte(natsauth.ServerConf(keys)), 0o644); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("%v\n%s", err, natsauth.ServerConf(keys))
	}
	if diff := cmp.Diff(natsauth.Users(keys), opts.Nkeys, cmpopts.IgnoreUnexported(server.NkeyUser{})); diff != "" {
		t.Errorf("users (-natsauth +conf):\n%s", diff)
	}
	if opts.MaxPayload != 8<<20 {
		t.Errorf("max_payload %d, want 8 MiB", opts.MaxPayload)
	}
	for _, id := range natsauth.Identities {
		seed, _ := os.ReadFile(keys.Of(id).SeedFile)
		if strings.Contains(natsauth.ServerConf(keys), strings.TrimSpace(string(seed))) {
			t.Errorf("the %s seed is in the conf", id)
		}
	}
}
