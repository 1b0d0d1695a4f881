// Package natsconn connects a service to NATS from its environment
// (NATS_URL, NATS_CREDS, NATS_NKEY, NATS_TLS_CA, NATS_TLS_CERT,
// NATS_TLS_KEY), reconnecting forever and logging every disconnect,
// reconnect and close. (Moving a connection off a server whose JetStream
// keeps answering unavailable is package jswatch's, public for agents.)
package natsconn

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/relaybus/relaybus/internal/envconf"
)

// ErrInvalidConfig classifies configuration errors.
var ErrInvalidConfig = errors.New("natsconn: invalid config")

// Config says how to reach NATS.
type Config struct {
	URL     string // NATS_URL, default nats://127.0.0.1:4222
	Creds   string // NATS_CREDS: a credentials file (JWT and seed)
	NKey    string // NATS_NKEY: a user nkey seed file
	TLSCA   string // NATS_TLS_CA: a CA bundle to verify the server
	TLSCert string // NATS_TLS_CERT: a client certificate (with NATS_TLS_KEY)
	TLSKey  string // NATS_TLS_KEY: the client certificate's private key
}

// Vars declares the connection's variables, each once (package envconf):
// FromEnv reads them, LogValue logs them, and the README's table says the
// same.
func (c *Config) Vars() []envconf.Var {
	return []envconf.Var{
		envconf.V("NATS_URL", &c.URL, nats.DefaultURL,
			"the NATS server, or a comma list of a cluster's; a password or token in it is logged as `xxxxx`").Redact(RedactURL),
		envconf.V("NATS_CREDS", &c.Creds, "", "a JWT credentials file to connect with"),
		envconf.V("NATS_NKEY", &c.NKey, "", "a user nkey seed file to connect with (the relay's identities: root README, Security)"),
		envconf.V("NATS_TLS_CA", &c.TLSCA, "", "a CA bundle to verify the server with"),
		envconf.V("NATS_TLS_CERT", &c.TLSCert, "", "a client certificate (with NATS_TLS_KEY)"),
		envconf.V("NATS_TLS_KEY", &c.TLSKey, "", "the client certificate's private key"),
	}
}

// FromEnv reads the variables of Vars; unset ones keep their defaults.
// None can fail to parse (they are strings): Validate checks them.
func FromEnv(getenv func(string) string) Config {
	c := envconf.Default((*Config).Vars)
	_ = envconf.Parse(getenv, c.Vars()...)
	return c
}

// LogValue logs the configuration under the variables' names, the URL's
// credentials redacted (paths are not secrets).
func (c Config) LogValue() slog.Value { return envconf.LogValue(c.Vars()...) }

// Validate checks that the referenced files exist, that a certificate
// comes with its key, and that NATS_CREDS and NATS_NKEY are not both set
// (the client would use only one).
func (c Config) Validate() error {
	if c.URL == "" {
		return fmt.Errorf("%w: NATS_URL is empty", ErrInvalidConfig)
	}
	if c.Creds != "" && c.NKey != "" {
		return fmt.Errorf("%w: NATS_CREDS and NATS_NKEY are both set: want one", ErrInvalidConfig)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("%w: NATS_TLS_CERT and NATS_TLS_KEY go together: set both or neither", ErrInvalidConfig)
	}
	for _, f := range []struct{ name, path string }{
		{"NATS_CREDS", c.Creds}, {"NATS_NKEY", c.NKey}, {"NATS_TLS_CA", c.TLSCA},
		{"NATS_TLS_CERT", c.TLSCert}, {"NATS_TLS_KEY", c.TLSKey},
	} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return fmt.Errorf("%w: %s=%q: %v", ErrInvalidConfig, f.name, f.path, err)
		}
	}
	return nil
}

// Authenticated reports whether c presents credentials of its own (a
// credentials file, an nkey or a client certificate), for the startup log.
func (c Config) Authenticated() bool { return c.Creds != "" || c.NKey != "" || c.TLSCert != "" }

// InboxPrefix is the reply-subject prefix of the stages' and the CLI's
// connections, instead of the client's default _INBOX: the agent identity
// may subscribe to _INBOX.> for its own replies, and must not read the
// stages' (a converter's pull requests deliver raw frames to its inbox).
// ADR 0001 §14.
const InboxPrefix = "_INBOX_relay"

// Options returns the client options every relaybus connection uses: a
// name, the stages' inbox prefix, infinite reconnects (with the connection
// retried at start too), a larger reconnect buffer, and logging handlers.
func Options(name string, log *slog.Logger) []nats.Option {
	return []nats.Option{
		nats.Name(name),
		nats.CustomInboxPrefix(InboxPrefix),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.ReconnectBufSize(32 << 20),
		nats.PingInterval(10 * time.Second),
		nats.MaxPingsOutstanding(3),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			} else {
				log.Info("nats disconnected")
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", "server", RedactURL(nc.ConnectedUrl()))
		}),
		nats.ClosedHandler(func(_ *nats.Conn) { log.Info("nats connection closed") }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			log.Warn("nats async error", "subject", subj, "err", err)
		}),
	}
}

// Connect dials NATS with Options plus the credentials and CA of cfg. It
// keeps retrying in the background when the first dial fails
// (RetryOnFailedConnect), so a service can start before its NATS server.
func Connect(cfg Config, name string, log *slog.Logger) (*nats.Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := append(Options(name, log), nats.RetryOnFailedConnect(true))
	nc, err := nats.Connect(cfg.URL, append(opts, cfg.AuthOptions()...)...)
	if err != nil {
		return nil, fmt.Errorf("connecting to nats at %s: %w", RedactURL(cfg.URL), RedactError(err))
	}
	return nc, nil
}

// AuthOptions are the nats options for c's credentials file, nkey seed
// file, CA and client certificate, each when set. The seed is read when
// the connection is made; an unreadable one fails it (without quoting the
// file).
func (c Config) AuthOptions() []nats.Option {
	var opts []nats.Option
	if c.Creds != "" {
		opts = append(opts, nats.UserCredentials(c.Creds))
	}
	if c.NKey != "" {
		opts = append(opts, NKeyOption(c.NKey))
	}
	if c.TLSCA != "" {
		opts = append(opts, nats.RootCAs(c.TLSCA))
	}
	if c.TLSCert != "" {
		opts = append(opts, nats.ClientCert(c.TLSCert, c.TLSKey))
	}
	return opts
}

// NKeyOption authenticates with the user nkey seed in file (the seed
// alone, as nsc and relaybus write it, or a file holding one).
func NKeyOption(file string) nats.Option {
	return func(o *nats.Options) error {
		opt, err := nats.NkeyOptionFromSeed(file)
		if err != nil {
			return fmt.Errorf("%w: NATS_NKEY=%q: %v", ErrInvalidConfig, file, err)
		}
		return opt(o)
	}
}

// redacted replaces a URL's secret part.
const redacted = "xxxxx"

// RedactURL returns a NATS URL, or a comma-separated list of them, safe to
// log or to put into an error: a password is replaced by "xxxxx" (as
// [url.URL.Redacted] does), and so is a user without a password, since
// NATS reads that as a token (nats://TOKEN@host). A URL without a scheme
// (user:pass@host:4222, which the client accepts) is redacted too, and one
// that does not parse loses everything before its last "@". Every binary
// logs NATS_URL through this function.
func RedactURL(list string) string {
	if !strings.Contains(list, "@") {
		return list
	}
	parts := strings.Split(list, ",")
	for i, p := range parts {
		parts[i] = redactOne(strings.TrimSpace(p))
	}
	return strings.Join(parts, ",")
}

func redactOne(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	const defaultScheme = "nats://"
	in := s
	bare := !strings.Contains(s, "://")
	if bare {
		in = defaultScheme + s
	}
	u, err := url.Parse(in)
	if err != nil || u.Opaque != "" {
		// Unparseable: keep the scheme and what follows the last "@".
		at := strings.LastIndex(s, "@")
		scheme := ""
		if i := strings.Index(s, "://"); i >= 0 && i < at {
			scheme = s[:i+3]
		}
		return scheme + redacted + "@" + s[at+1:]
	}
	if u.User != nil {
		if _, hasPassword := u.User.Password(); !hasPassword {
			u.User = url.User(redacted)
		}
	}
	out := u.Redacted()
	if bare {
		out = strings.TrimPrefix(out, defaultScheme)
	}
	return out
}

// RedactError returns err with the URL of a [url.Error] in its chain
// redacted: the client's parse errors quote the whole URL, credentials
// included, and a bad escape quotes the escape, which may sit in the
// password. Other errors are returned unchanged.
func RedactError(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	r := RedactURL(ue.URL)
	if r == ue.URL {
		return err
	}
	inner := ue.Err
	var esc url.EscapeError
	if errors.As(inner, &esc) {
		inner = errors.New("invalid URL escape")
	}
	safe := &url.Error{Op: ue.Op, URL: r, Err: inner}
	if ue == err {
		return safe
	}
	// Wrapped deeper: keep the message only, with the URL error replaced.
	return errors.New(strings.ReplaceAll(err.Error(), ue.Error(), safe.Error()))
}

// Drain drains nc (in-flight messages are delivered, subscriptions flushed)
// and waits until it is closed, closing it outright after timeout. Every
// stage calls it last on its way out.
func Drain(nc *nats.Conn, timeout time.Duration) error {
	if nc.IsClosed() {
		return nil
	}
	switch err := nc.Drain(); {
	case errors.Is(err, nats.ErrConnectionReconnecting):
		// Not connected (never, or not now): nothing can be flushed, and
		// stopping while NATS is unreachable is an orderly stop.
		nc.Close()
		return nil
	case err != nil && !errors.Is(err, nats.ErrConnectionClosed):
		nc.Close()
		return fmt.Errorf("draining nats: %w", err)
	}
	deadline := time.Now().Add(timeout)
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !nc.IsClosed() {
		if time.Now().After(deadline) {
			nc.Close()
			return fmt.Errorf("draining nats: not closed within %v", timeout)
		}
		<-t.C
	}
	return nil
}
