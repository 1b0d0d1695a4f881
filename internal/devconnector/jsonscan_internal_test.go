package devconnector

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/relaybus/relaybus/pkg/wire/jsonscan"
)

var scanTests = []struct {
	name     string
	body     string
	want     map[string]string // raw values, last key wins
	wantBody string            // without "token" members
}{
	{"Empty", `{}`, map[string]string{}, `{}`},
	{"Flat", `{"a":1,"token":"t","b":"x"}`, map[string]string{"a": "1", "token": `"t"`, "b": `"x"`}, `{"a":1,"b":"x"}`},
	{"Spaces", " {\n \"token\" : \"t\" ,\r\n\t\"a\" : [ 1 , {\"b\" : \"}\"} ] } ", map[string]string{"token": `"t"`, "a": `[ 1 , {"b" : "}"} ]`}, "{\n \"a\" : [ 1 , {\"b\" : \"}\"} ] }"},
	{"TokenLast", `{"a":true,"token":null}`, map[string]string{"a": "true", "token": "null"}, `{"a":true}`},
	{"Nested tokens stay", `{"data":{"token":"inner"},"x":-1.5e3}`, map[string]string{"data": `{"token":"inner"}`, "x": "-1.5e3"}, `{"data":{"token":"inner"},"x":-1.5e3}`},
	{"EscapedKeyAndValue", `{"to\u006ben":"a\"b","q\\":"\\"}`, map[string]string{"token": `"a\"b"`, `q\`: `"\\"`}, `{"q\\":"\\"}`},
	{"CaseFoldToken", `{"TOKEN":"t","id":"1"}`, map[string]string{"TOKEN": `"t"`, "id": `"1"`}, `{"id":"1"}`},
	{"DuplicateToken", `{"token":"a","id":"1","token":"b"}`, map[string]string{"token": `"b"`, "id": `"1"`}, `{"id":"1"}`},
}

func TestEachMember(t *testing.T) {
	for _, tt := range scanTests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string]string{}
			ok := jsonscan.Members([]byte(tt.body), func(key, val []byte, _, _ int) {
				var k string
				if err := json.Unmarshal(key, &k); err != nil {
					t.Fatalf("key %q: %v", key, err)
				}
				got[k] = string(val)
			})
			if !ok {
				t.Fatal("eachMember = false")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("members mismatch (-want +got):\n%s", diff)
			}
			if out := sanitizeInteraction([]byte(tt.body), true); string(out) != tt.wantBody {
				t.Errorf("sanitized = %s, want %s", out, tt.wantBody)
			}
		})
	}
	for _, notObject := range []string{"", "[]", `"x"`, "1", "null", " [{}]"} {
		if jsonscan.Members([]byte(notObject), func(_, _ []byte, _, _ int) { t.Errorf("member of %q", notObject) }) {
			t.Errorf("jsonscan.Members(%q) = true", notObject)
		}
	}
}

// FuzzSanitize checks, for valid JSON objects, that the scanner sees what
// encoding/json sees and that sanitizing drops exactly the token members;
// for anything else, that nothing panics.
func FuzzSanitize(f *testing.F) {
	for _, tt := range scanTests {
		f.Add(tt.body)
	}
	f.Add(`{"id":"1","type":2,"token":"t","member":{"user":{"id":"u"}},"channel":{"id":"c","type":11}}`)
	f.Fuzz(func(t *testing.T, body string) {
		b := []byte(body)
		in, ok := parseInteraction(b, "discord", "")
		t2 := bytes.TrimSpace(b)
		isObj := len(t2) > 0 && t2[0] == '{' && json.Valid(t2)
		if ok != isObj {
			t.Fatalf("parseInteraction ok = %v, want %v", ok, isObj)
		}
		jsonscan.Members(b, func(_, _ []byte, _, _ int) {})
		scalar(b)
		if !isObj {
			return
		}
		var want map[string]json.RawMessage
		if err := json.Unmarshal(t2, &want); err != nil {
			t.Fatal(err)
		}
		got := map[string]json.RawMessage{}
		jsonscan.Members(t2, func(key, val []byte, _, _ int) {
			var k string
			if err := json.Unmarshal(key, &k); err != nil {
				t.Fatalf("key %q: %v", key, err)
			}
			got[k] = append(json.RawMessage(nil), val...)
		})
		if len(got) != len(want) {
			t.Fatalf("scanner saw %d members, encoding/json %d", len(got), len(want))
		}
		for k, v := range want {
			// encoding/json matches keys exactly in a map; compare compacted.
			if !jsonEqual(t, got[k], v) {
				t.Fatalf("member %q = %s, encoding/json %s", k, got[k], v)
			}
		}
		out := sanitizeInteraction(t2, in.hasToken)
		var after map[string]json.RawMessage
		if err := json.Unmarshal(out, &after); err != nil {
			t.Fatalf("sanitized body %q is not JSON: %v", out, err)
		}
		for k := range want {
			_, kept := after[k]
			if kept == strings.EqualFold(k, "token") {
				t.Fatalf("key %q kept = %v", k, kept)
			}
		}
	})
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return false
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}
