package wire

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

var (
	// ErrBadToken is returned by VerifyToken for a token that is malformed or
	// whose signature does not match.
	ErrBadToken = errors.New("wire: bad relay token")

	// ErrTokenExpired is returned by VerifyToken for a well-formed, correctly
	// signed token whose exp lies in the past.
	ErrTokenExpired = errors.New("wire: relay token expired")

	// ErrBadURL is returned by DialURL for a connector URL it cannot use.
	ErrBadURL = errors.New("wire: bad connector url")
)

// TokenTTL is how long a minted upgrade token is valid.
const TokenTTL = 300 * time.Second

// MintToken returns the connector upgrade token for gatewayID: base64url
// without padding of "<gatewayId>:<exp>:<sig>", where sig is the lowercase hex
// HMAC-SHA256 of "<gatewayId>:<exp>" keyed with secret. exp is unix seconds;
// 0 means "never expires".
func MintToken(gatewayID, secret string, exp int64) string {
	e := strconv.FormatInt(exp, 10)
	return base64.RawURLEncoding.EncodeToString([]byte(gatewayID + ":" + e + ":" + tokenSig(gatewayID, e, secret)))
}

// MintTokenAt mints a token that expires ttl after now (a ttl <= 0 gives
// exp = 0, "never").
func MintTokenAt(gatewayID, secret string, now time.Time, ttl time.Duration) string {
	var exp int64
	if ttl > 0 {
		exp = now.Add(ttl).Unix()
	}
	return MintToken(gatewayID, secret, exp)
}

func tokenSig(gatewayID, exp, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(gatewayID + ":" + exp))
	return hex.EncodeToString(m.Sum(nil))
}

// VerifyToken checks a token against the secret of the gateway it names and
// returns the gateway id and exp. It accepts exactly the tokens MintToken
// produces: unpadded base64url with zero trailing bits, exp in canonical
// decimal, lower-case hex signature. lookup returns the secret for a gateway id
// (false: unknown gateway). An expired token returns ErrTokenExpired (with the
// id and exp filled in), anything else wrong ErrBadToken.
func VerifyToken(token string, lookup func(gatewayID string) (string, bool), now time.Time) (string, int64, error) {
	// Strict, and no line breaks (which the base64 package skips): a token
	// is accepted only in the one form MintToken produces.
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || strings.ContainsAny(token, "\r\n") {
		return "", 0, fmt.Errorf("%w: not unpadded base64url", ErrBadToken)
	}
	s := string(raw)
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", 0, fmt.Errorf("%w: no signature", ErrBadToken)
	}
	j := strings.LastIndexByte(s[:i], ':')
	if j < 0 {
		return "", 0, fmt.Errorf("%w: no expiry", ErrBadToken)
	}
	id, expStr, sig := s[:j], s[j+1:i], s[i+1:]
	exp, err := strconv.ParseInt(expStr, 10, 64)
	if err != nil || exp < 0 || strconv.FormatInt(exp, 10) != expStr {
		return "", 0, fmt.Errorf("%w: bad expiry", ErrBadToken)
	}
	secret, ok := lookup(id)
	if !ok || strings.TrimSpace(secret) == "" {
		return "", 0, fmt.Errorf("%w: unknown gateway", ErrBadToken)
	}
	if !hmac.Equal([]byte(sig), []byte(tokenSig(id, expStr, secret))) {
		return "", 0, fmt.Errorf("%w: signature mismatch", ErrBadToken)
	}
	if exp != 0 && now.Unix() > exp {
		return id, exp, ErrTokenExpired
	}
	return id, exp, nil
}

// BearerHeader returns the Authorization header value for a token.
func BearerHeader(token string) string { return "Bearer " + token }

// DialURL normalises a connector base URL to the /relay WebSocket URL: trim;
// https:// becomes wss://, http:// ws://; trailing slashes stripped; /relay
// appended unless the path already ends in /relay. It is idempotent.
func DialURL(base string) (string, error) {
	s := strings.TrimSpace(base)
	switch {
	case hasPrefixFold(s, "https://"):
		s = "wss://" + s[len("https://"):]
	case hasPrefixFold(s, "http://"):
		s = "ws://" + s[len("http://"):]
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrBadURL, base, err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return "", fmt.Errorf("%w: %q: scheme must be ws, wss, http or https", ErrBadURL, base)
	}
	if u.Hostname() == "" {
		return "", fmt.Errorf("%w: %q: no host", ErrBadURL, base)
	}
	// An empty query or fragment ("https://c.example?") leaves RawQuery and
	// Fragment empty but would put "/relay" behind the '?' or '#'.
	if strings.ContainsAny(s, "?#") {
		return "", fmt.Errorf("%w: %q: no query or fragment allowed (auth rides the Authorization header)", ErrBadURL, base)
	}
	s = strings.TrimRight(s, "/")
	if !strings.HasSuffix(s, "/relay") {
		s += "/relay"
	}
	return s, nil
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
