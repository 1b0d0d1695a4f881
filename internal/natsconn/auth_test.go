package natsconn_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/relaybus/relaybus/internal/natsconn"
	"github.com/relaybus/relaybus/pkg/natstest"
)

func TestValidateAuth(t *testing.T) {
	f := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tt := range map[string]struct {
		env     map[string]string
		wantErr bool
	}{
		"OKNKey":            {map[string]string{"NATS_NKEY": f}, false},
		"OKCert":            {map[string]string{"NATS_TLS_CERT": f, "NATS_TLS_KEY": f, "NATS_TLS_CA": f}, false},
		"ErrCredsAndNKey":   {map[string]string{"NATS_NKEY": f, "NATS_CREDS": f}, true},
		"ErrCertWithoutKey": {map[string]string{"NATS_TLS_CERT": f}, true},
		"ErrKeyWithoutCert": {map[string]string{"NATS_TLS_KEY": f}, true},
		"ErrMissingNKey":    {map[string]string{"NATS_NKEY": f + ".missing"}, true},
		"ErrMissingKey":     {map[string]string{"NATS_TLS_CERT": f, "NATS_TLS_KEY": f + ".missing"}, true},
	} {
		t.Run(name, func(t *testing.T) {
			err := natsconn.FromEnv(func(k string) string { return tt.env[k] }).Validate()
			if (err != nil) != tt.wantErr || err != nil && !errors.Is(err, natsconn.ErrInvalidConfig) {
				t.Errorf("Validate = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

// TestConnectWithNKey: NATS_NKEY authenticates against a server that knows
// only the public key; a seed file that holds none fails without quoting
// the file.
func TestConnectWithNKey(t *testing.T) {
	kp, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	dir := t.TempDir()
	seedFile := filepath.Join(dir, "user.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	ns := natstest.RunServer(t, func(o *server.Options) { o.Nkeys = []*server.NkeyUser{{Nkey: pub}} })
	log := slog.New(slog.DiscardHandler)
	cfg := natsconn.Config{URL: ns.ClientURL(), NKey: seedFile}
	nc, err := natsconn.Connect(cfg, "t", log)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.Flush(); err != nil {
		t.Fatalf("flush as the nkey user: %v", err)
	}
	if !strings.HasPrefix(nc.NewInbox(), natsconn.InboxPrefix+".") {
		t.Errorf("inbox %s, want the stages' prefix %s", nc.NewInbox(), natsconn.InboxPrefix)
	}

	bad := filepath.Join(dir, "bad.nk")
	const content = "not-a-seed-but-private"
	if err := os.WriteFile(bad, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = natsconn.Connect(natsconn.Config{URL: ns.ClientURL(), NKey: bad}, "t", log)
	if err == nil || strings.Contains(err.Error(), content) {
		t.Errorf("Connect with a bad seed file = %v, want an error not quoting it", err)
	}
}

// TestConnectWithClientCert: NATS_TLS_CERT and NATS_TLS_KEY present a
// client certificate to a server that verifies them (NATS_TLS_CA verifies
// the server's).
func TestConnectWithClientCert(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := newCert(t, nil, nil, "relay-test-ca", true)
	srv, srvKey := newCert(t, ca, caKey, "localhost", false)
	cli, cliKey := newCert(t, ca, caKey, "relay-client", false)
	write := func(name string, der []byte, key *ecdsa.PrivateKey) (certFile, keyFile string) {
		certFile = filepath.Join(dir, name+".pem")
		if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		if key != nil {
			b, _ := x509.MarshalECPrivateKey(key)
			keyFile = filepath.Join(dir, name+"-key.pem")
			if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: b}), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return certFile, keyFile
	}
	caFile, _ := write("ca", ca.Raw, nil)
	srvCert, srvKeyFile := write("server", srv.Raw, srvKey)
	cliCert, cliKeyFile := write("client", cli.Raw, cliKey)
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: srvCert, KeyFile: srvKeyFile, CaFile: caFile, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	ns := natstest.RunServer(t, func(o *server.Options) {
		o.TLSConfig, o.TLSVerify, o.TLS, o.TLSTimeout = tc, true, true, 2
	})
	url := "tls://localhost:" + portOf(t, ns.ClientURL())
	log := slog.New(slog.DiscardHandler)

	nc, err := natsconn.Connect(natsconn.Config{URL: url, TLSCA: caFile, TLSCert: cliCert, TLSKey: cliKeyFile}, "t", log)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.Flush(); err != nil {
		t.Fatalf("flush with a client certificate: %v", err)
	}
	if _, err := nc.TLSConnectionState(); err != nil {
		t.Errorf("not on TLS: %v", err)
	}
	// Without the certificate the server refuses.
	cfg := natsconn.Config{URL: url, TLSCA: caFile}
	if nc, err := nats.Connect(cfg.URL, append(cfg.AuthOptions(), nats.NoReconnect())...); err == nil {
		nc.Close()
		t.Error("connected without a client certificate")
	}
}

func portOf(t *testing.T, url string) string {
	t.Helper()
	_, hostPort, _ := strings.Cut(url, "://")
	_, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// newCert makes a certificate signed by parent (self-signed when nil).
func newCert(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, cn string, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     []string{cn},
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}
