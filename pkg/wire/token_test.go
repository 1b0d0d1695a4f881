package wire_test

import (
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/relaybus/relaybus/pkg/wire"
)

// The contract's test vector (docs/relay-contract.md §1).
const (
	vectorID     = "gw-x"
	vectorSecret = "secret-x"
	vectorSig    = "0d5ec369e8cc956cf7b1c966c8d68834f6ba769de1e53045b76cf426af154d43"
	vectorToken  = "Z3cteDowOjBkNWVjMzY5ZThjYzk1NmNmN2IxYzk2NmM4ZDY4ODM0ZjZiYTc2OWRlMWU1MzA0NWI3NmNmNDI2YWYxNTRkNDM"
)

func TestMintTokenVector(t *testing.T) {
	got := wire.MintToken(vectorID, vectorSecret, 0)
	if got != vectorToken {
		t.Fatalf("MintToken(%q, secret, 0) = %q, want %q", vectorID, got, vectorToken)
	}
	raw, err := base64.RawURLEncoding.DecodeString(got)
	if err != nil {
		t.Fatalf("token is not unpadded base64url: %v", err)
	}
	if want := vectorID + ":0:" + vectorSig; string(raw) != want {
		t.Fatalf("decoded token = %q, want %q", raw, want)
	}
}

func TestMintTokenAt(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name    string
		ttl     time.Duration
		wantExp int64
	}{
		{"DefaultTTL", wire.TokenTTL, 1_700_000_300},
		{"ZeroTTLNeverExpires", 0, 0},
		{"NegativeTTLNeverExpires", -time.Second, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := wire.MintTokenAt(vectorID, vectorSecret, now, tt.ttl)
			if want := wire.MintToken(vectorID, vectorSecret, tt.wantExp); got != want {
				t.Fatalf("MintTokenAt(ttl=%v) = %q, want the token with exp %d (%q)", tt.ttl, got, tt.wantExp, want)
			}
		})
	}
	if got := wire.MintTokenAt(vectorID, vectorSecret, now, 0); got != vectorToken {
		t.Errorf("MintTokenAt(ttl=0) = %q, want the contract vector %q", got, vectorToken)
	}
}

func TestVerifyToken(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	secrets := map[string]string{vectorID: vectorSecret, "gw:colon": "s2", "blank": "   "}
	lookup := func(id string) (string, bool) { s, ok := secrets[id]; return s, ok }
	b64 := base64.RawURLEncoding.EncodeToString
	tests := []struct {
		name    string
		token   string
		wantID  string
		wantExp int64
		wantErr error
	}{
		{"OK", vectorToken, vectorID, 0, nil},
		{"OKNotYetExpired", wire.MintToken(vectorID, vectorSecret, 1_700_000_300), vectorID, 1_700_000_300, nil},
		{"OKExpiresThisSecond", wire.MintToken(vectorID, vectorSecret, 1_700_000_000), vectorID, 1_700_000_000, nil},
		{"OKIDWithColon", wire.MintToken("gw:colon", "s2", 0), "gw:colon", 0, nil},
		{"ErrTokenExpired", wire.MintToken(vectorID, vectorSecret, 1_699_999_999), vectorID, 1_699_999_999, wire.ErrTokenExpired},
		{"ErrBadSignature", wire.MintToken(vectorID, "other-secret", 0), "", 0, wire.ErrBadToken},
		{"ErrTamperedExp", b64([]byte(vectorID + ":9:" + vectorSig)), "", 0, wire.ErrBadToken},
		{"ErrUnknownGateway", wire.MintToken("gw-unknown", vectorSecret, 0), "", 0, wire.ErrBadToken},
		{"ErrBlankSecret", wire.MintToken("blank", "   ", 0), "", 0, wire.ErrBadToken},
		{"ErrPadded", vectorToken + "=", "", 0, wire.ErrBadToken},
		{"ErrStdAlphabet", "Z3cteDowOj+kNWVj", "", 0, wire.ErrBadToken},
		{"ErrEmpty", "", "", 0, wire.ErrBadToken},
		{"ErrNoColon", b64([]byte("gw-x")), "", 0, wire.ErrBadToken},
		{"ErrNoExpiry", b64([]byte("gw-x:" + vectorSig)), "", 0, wire.ErrBadToken},
		{"ErrExpiryNotNumber", b64([]byte("gw-x:soon:" + vectorSig)), "", 0, wire.ErrBadToken},
		{"ErrNegativeExpiry", b64([]byte("gw-x:-5:" + vectorSig)), "", 0, wire.ErrBadToken},
		{"ErrTrailingNewline", vectorToken + "\n", "", 0, wire.ErrBadToken},
		{"ErrEmbeddedNewline", vectorToken[:10] + "\r\n" + vectorToken[10:], "", 0, wire.ErrBadToken},
		{"ErrNonZeroTrailingBits", vectorToken[:len(vectorToken)-1] + "N", "", 0, wire.ErrBadToken},
		{"ErrExpLeadingZero", b64([]byte("gw-x:00:" + vectorSig)), "", 0, wire.ErrBadToken},
		{"ErrExpPlusSign", b64([]byte("gw-x:+0:" + vectorSig)), "", 0, wire.ErrBadToken},
		{"ErrUppercaseSig", b64([]byte("gw-x:0:0D5EC369E8CC956CF7B1C966C8D68834F6BA769DE1E53045B76CF426AF154D43")), "", 0, wire.ErrBadToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, exp, err := wire.VerifyToken(tt.token, lookup, now)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("VerifyToken(%q) error = %v, want %v", tt.token, err, tt.wantErr)
			}
			if errors.Is(err, wire.ErrTokenExpired) && errors.Is(err, wire.ErrBadToken) {
				t.Errorf("VerifyToken(%q) error %v is both expired and bad", tt.token, err)
			}
			if id != tt.wantID || exp != tt.wantExp {
				t.Errorf("VerifyToken(%q) = (%q, %d), want (%q, %d)", tt.token, id, exp, tt.wantID, tt.wantExp)
			}
		})
	}
}

func TestBearerHeader(t *testing.T) {
	if got, want := wire.BearerHeader(vectorToken), "Bearer "+vectorToken; got != want {
		t.Fatalf("BearerHeader = %q, want %q", got, want)
	}
}

// dialURLTests is the DialURL table; FuzzDialURL seeds from it.
var dialURLTests = []struct {
	name    string
	in      string
	want    string
	wantErr error
}{
	// The contract's examples.
	{"HTTPS", "https://c.example", "wss://c.example/relay", nil},
	{"HTTPWithPort", "http://c.local:8080", "ws://c.local:8080/relay", nil},
	{"RelayTrailingSlash", "https://c.example/relay/", "wss://c.example/relay", nil},
	// The rules behind them.
	{"Trimmed", "  https://c.example \n", "wss://c.example/relay", nil},
	{"TrailingSlash", "https://c.example/", "wss://c.example/relay", nil},
	{"TrailingSlashes", "https://c.example///", "wss://c.example/relay", nil},
	{"AlreadyRelay", "wss://c.example/relay", "wss://c.example/relay", nil},
	{"WSKept", "ws://127.0.0.1:9/relay", "ws://127.0.0.1:9/relay", nil},
	{"PathPrefix", "https://c.example/tenant/a", "wss://c.example/tenant/a/relay", nil},
	{"PathPrefixRelay", "https://c.example/tenant/relay", "wss://c.example/tenant/relay", nil},
	{"RelaySuffixNotSegment", "https://c.example/xrelay", "wss://c.example/xrelay/relay", nil},
	{"SchemeCaseInsensitive", "HTTPS://c.example", "wss://c.example/relay", nil},
	{"IPv6", "http://[::1]:8080", "ws://[::1]:8080/relay", nil},
	{"ErrFTP", "ftp://c.example", "", wire.ErrBadURL},
	{"ErrNoScheme", "c.example", "", wire.ErrBadURL},
	{"ErrEmpty", "", "", wire.ErrBadURL},
	{"ErrNoHost", "https://", "", wire.ErrBadURL},
	{"ErrNoHostPath", "https:///relay", "", wire.ErrBadURL},
	{"ErrPortOnly", "https://:8080", "", wire.ErrBadURL},
	{"ErrQuery", "https://c.example/?token=abc", "", wire.ErrBadURL},
	{"ErrEmptyQuery", "https://c.example?", "", wire.ErrBadURL},
	{"ErrFragment", "https://c.example/#x", "", wire.ErrBadURL},
	{"ErrEmptyFragment", "https://c.example#", "", wire.ErrBadURL},
	{"ErrBadPort", "https://c.example:port", "", wire.ErrBadURL},
}

func TestDialURL(t *testing.T) {
	for _, tt := range dialURLTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := wire.DialURL(tt.in)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("DialURL(%q) = %q, %v, want error %v", tt.in, got, err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("DialURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if err != nil {
				return
			}
			again, err := wire.DialURL(got)
			if err != nil || again != got {
				t.Fatalf("DialURL(DialURL(%q)) = %q, %v, want %q (idempotent)", tt.in, again, err, got)
			}
		})
	}
}
