package wire_test

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/relaybus/relaybus/pkg/wire"
)

func TestStripInternalMetadata(t *testing.T) {
	tests := []struct {
		name, in, want string
		removed        int
	}{
		{"NoMarker", `{"op":"send","chat_id":"c","content":"hi","reply_to":null,"metadata":{"scope_id":"g"}}`,
			`{"op":"send","chat_id":"c","content":"hi","reply_to":null,"metadata":{"scope_id":"g"}}`, 0},
		{"Marker", `{"op":"send","chat_id":"c","content":"hi","reply_to":null,"metadata":{"_marker":"x","scope_id":"g","_reply":{"a":[1,2]}}}`,
			`{"op":"send","chat_id":"c","content":"hi","reply_to":null,"metadata":{"scope_id":"g"}}`, 2},
		{"FollowUp", `{"op":"follow_up","session_key":"agent:main:discord:group:c:u","kind":"discord.interaction_token","content":"ok","metadata":{"_turn":"7"}}`,
			`{"op":"follow_up","session_key":"agent:main:discord:group:c:u","kind":"discord.interaction_token","content":"ok","metadata":{}}`, 1},
		{"EscapedUnderscore", `{"op":"typing","chat_id":"c","metadata":{"\u005fhidden":1,"keep":true}}`,
			`{"op":"typing","chat_id":"c","metadata":{"keep":true}}`, 1},
		{"UnderscoreInContentOnly", `{"op":"send","chat_id":"c","content":"say \"_hi\"","reply_to":null,"metadata":{"k":"_v"}}`,
			`{"op":"send","chat_id":"c","content":"say \"_hi\"","reply_to":null,"metadata":{"k":"_v"}}`, 0},
		{"NestedUnderscoreKept", `{"op":"send","chat_id":"c","content":"x","reply_to":null,"metadata":{"k":{"_inner":1}}}`,
			`{"op":"send","chat_id":"c","content":"x","reply_to":null,"metadata":{"k":{"_inner":1}}}`, 0},
		{"TopLevelUnderscoreKept", `{"op":"send","_x":1,"chat_id":"c","content":"x","reply_to":null,"metadata":{}}`,
			`{"op":"send","_x":1,"chat_id":"c","content":"x","reply_to":null,"metadata":{}}`, 0},
		{"NullMetadata", `{"op":"send","_x":1,"metadata":null}`, `{"op":"send","_x":1,"metadata":null}`, 0},
		{"ArrayMetadataLeftAlone", `{"op":"send","content":"_a","metadata":["_x"]}`, `{"op":"send","content":"_a","metadata":["_x"]}`, 0},
		{"CaseVariantKeyLeftAlone", `{"op":"send","Metadata":{"_a":1}}`, `{"op":"send","Metadata":{"_a":1}}`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, n, err := wire.StripInternalMetadata([]byte(tt.in))
			if err != nil {
				t.Fatalf("StripInternalMetadata: %v", err)
			}
			if string(got) != tt.want || n != tt.removed {
				t.Errorf("StripInternalMetadata(%s)\n = %s, %d\nwant %s, %d", tt.in, got, n, tt.want, tt.removed)
			}
		})
	}
}

func TestStripInternalMetadataRejects(t *testing.T) {
	for _, in := range []string{
		`["_x"]`,
		`{"op":"send","metadata":{"_x":1}} trailing`,
		`{"op":"send","metadata":{"_x":}}`,
	} {
		if got, _, err := wire.StripInternalMetadata([]byte(in)); err == nil {
			t.Errorf("StripInternalMetadata(%s) = %s, want an error", in, got)
		}
	}
}

// FuzzStripInternalMetadata checks, against encoding/json, that whatever
// the strip accepts comes out as the same object less the internal
// metadata keys, and still valid JSON.
func FuzzStripInternalMetadata(f *testing.F) {
	for _, s := range []string{
		`{"op":"send","metadata":{"_a":1,"b":2}}`,
		`{"metadata":{"\u005fa":1},"x":"_y"}`,
		`{"op":"edit","metadata":{ "_a" : [ 1 , {"_b":2} ] , "c" : null }}`,
		`{"metadata":{}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, n, err := wire.StripInternalMetadata(in)
		if err != nil {
			return
		}
		var before, after map[string]json.RawMessage
		if json.Unmarshal(in, &before) != nil {
			if n > 0 {
				t.Fatalf("stripped %d keys from input encoding/json rejects: %q", n, in)
			}
			return
		}
		if err := json.Unmarshal(out, &after); err != nil {
			t.Fatalf("output is not a JSON object: %v\nin  %q\nout %q", err, in, out)
		}
		if n == 0 {
			return
		}
		var mdBefore, mdAfter map[string]any
		if json.Unmarshal(before["metadata"], &mdBefore) != nil || json.Unmarshal(after["metadata"], &mdAfter) != nil {
			t.Fatalf("metadata not an object after stripping %d keys\nin  %q\nout %q", n, in, out)
		}
		for k := range mdAfter {
			if strings.HasPrefix(k, "_") {
				t.Fatalf("internal key %q kept\nin  %q\nout %q", k, in, out)
			}
		}
		maps.DeleteFunc(mdBefore, func(k string, _ any) bool { return strings.HasPrefix(k, "_") })
		if b1, b2 := mustMarshal(t, mdBefore), mustMarshal(t, mdAfter); b1 != b2 {
			t.Fatalf("metadata changed beyond the internal keys: %s vs %s", b1, b2)
		}
	})
}

func mustMarshal(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
