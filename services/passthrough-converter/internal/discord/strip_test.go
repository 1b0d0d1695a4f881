package discord_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/relaybus/relaybus/internal/fixtures"
	"github.com/relaybus/relaybus/services/passthrough-converter/internal/discord"
)

func TestStripToken(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		want      string
		wantFound bool
	}{
		{name: "OnlyMember", body: `{"token":"x"}`, want: `{}`, wantFound: true},
		{name: "Last", body: `{"a":1,"token":"x"}`, want: `{"a":1}`, wantFound: true},
		{name: "First", body: `{"token":"x","a":1}`, want: `{"a":1}`, wantFound: true},
		{name: "Middle", body: `{"a":1,"token":"x","b":2}`, want: `{"a":1,"b":2}`, wantFound: true},
		{
			name:      "WhitespaceKept",
			body:      "{\n  \"a\" : 1.50 ,\n  \"token\" : \"x\" ,\n  \"b\" : [1, 2]\n}\n",
			want:      "{\n  \"a\" : 1.50 ,\n  \"b\" : [1, 2]\n}\n",
			wantFound: true,
		},
		{name: "NonStringValue", body: `{"token":{"nested":["x"]},"a":null}`, want: `{"a":null}`, wantFound: true},
		{name: "Duplicates", body: `{"token":"x","token":"y","a":1,"token":"z"}`, want: `{"a":1}`, wantFound: true},
		{name: "AnyCase", body: `{"Token":"x","a":1,"TOKEN":"y"}`, want: `{"a":1}`, wantFound: true},
		{name: "KelvinSignFoldsLikeEncodingJSON", body: "{\"to\u212Aen\":\"x\",\"a\":1}", want: `{"a":1}`, wantFound: true},
		{name: "EscapedKey", body: `{"a":"t","\u0074oken":"x"}`, want: `{"a":"t"}`, wantFound: true},
		{name: "NestedUntouched", body: `{"message":{"token":"x"}}`, want: `{"message":{"token":"x"}}`},
		{name: "TokenAsValueUntouched", body: `{"a":"token","tokens":"x"}`, want: `{"a":"token","tokens":"x"}`},
		{name: "EmptyObject", body: `{}`, want: `{}`},
		{name: "NotJSON", body: `token=x`, want: `token=x`},
		{name: "Truncated", body: `{"token":"x"`, want: `{"token":"x"`},
		{name: "TrailingGarbage", body: `{"token":"x"} {}`, want: `{"token":"x"} {}`},
		{name: "Array", body: `[{"token":"x"}]`, want: `[{"token":"x"}]`},
		{name: "Empty", body: ``, want: ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.body)
			got, found := discord.StripToken(in)
			if string(got) != tt.want || found != tt.wantFound {
				t.Errorf("StripToken(%q) = %q, %v; want %q, %v", tt.body, got, found, tt.want, tt.wantFound)
			}
			if string(in) != tt.body {
				t.Errorf("StripToken modified its input: %q", in)
			}
		})
	}
}

func TestStripTokenFixtures(t *testing.T) {
	for _, f := range fixtures.DiscordNames() {
		t.Run(f, func(t *testing.T) {
			body := readFixture(t, f)
			tok := fixtureToken(t, body)
			got, found := discord.StripToken(body)
			if !found {
				t.Fatalf("StripToken(%s) found no token", f)
			}
			if bytes.Contains(got, []byte(tok)) {
				t.Errorf("StripToken(%s) kept the token", f)
			}
			// Everything else is unchanged: the same members, in order, with
			// byte-identical values.
			want := members(t, body)
			want = deleteKey(want, "token")
			if diff := cmp.Diff(want, members(t, got)); diff != "" {
				t.Errorf("StripToken(%s) members mismatch (-want +got):\n%s", f, diff)
			}
			// And the conversion is the same.
			ev1, err1 := discord.Convert(body, testForward)
			ev2, err2 := discord.Convert(got, testForward)
			if diff := cmp.Diff(ev1, ev2); diff != "" || errString(err1) != errString(err2) {
				t.Errorf("Convert differs after StripToken (-body +stripped):\n%s\nerrors %v / %v", diff, err1, err2)
			}
		})
	}
}

// member is one top-level member of a JSON object, its value raw.
type member struct {
	Key   string
	Value string
}

// members lists the top-level members of a JSON object in order; it
// returns nil for anything else.
func members(tb testing.TB, body []byte) []member {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil
		}
		out = append(out, member{Key: tok.(string), Value: string(v)})
	}
	return out
}

// deleteKey removes the members whose key folds to key, as encoding/json
// matches keys.
func deleteKey(ms []member, key string) []member {
	var out []member
	for _, m := range ms {
		if !strings.EqualFold(m.Key, key) {
			out = append(out, m)
		}
	}
	return out
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
