package jsonscan_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/relaybus/relaybus/pkg/wire/jsonscan"
)

// seeds are documents at the edges of JSON's grammar; every test and fuzz
// target of this package compares them with encoding/json.
var seeds = []string{
	``, ` `, `{}`, ` { } `, `[]`, `[ ]`, `null`, `true`, `false`, `nul`, `tru`, `falsey`, `0`, `-0`, `-`, `01`, `1.`, `1.5`, `.5`,
	`1e3`, `1E+3`, `1e-3`, `1e`, `1e+`, `-1.5e-10`, `"`, `""`, `"a`, `"\"`, `"\\"`, `"\/"`, `"\u00e9"`, `"\u00E9"`, `"\u12"`, `"\u12g4"`,
	// Longer than longString: the vector scans' cases.
	`"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"`, `"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\nB"`, "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\tB\"",
	`"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"B"`, `"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`, "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\xff\"",
	`"\x"`, "\"\t\"", "\"\x1f\"", "\"\x7f\"", "\"\xff\"", "\"\xed\xa0\x80\"", `"é😀"`, `"\ud800"`, `"\ud83d\ude00"`,
	`{"a":1}`, `{"a":1,}`, `{"a" 1}`, `{"a":}`, `{,}`, `{"a":1 "b":2}`, `{1:2}`, `{"a":1}}`, `{"a":1} x`, `{"a":1}{}`,
	`[1,2,]`, `[,]`, `[1 2]`, `[[[]]]`, `[{"a":[{"b":null}]}]`, "\u00a0{}", "{}\u00a0", "\v{}", "{}\f",
	`{"a":1,"a":2}`, `{"token":"t","Token":"u","TOKEN":1,"to\u006ben":2,"toke":3,"tokens":4,"` + "to\u212aen" + `":5}`,
	` {"a" : [ 1 , {"b" : "}"} ] , "token" : "x" } `, `{"token":"x"}`, `{"x":{"token":1}}`, `[{"token":1}]`,
}

// deep returns n nested arrays.
func deep(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

func TestValidAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range append(seeds, deep(jsonscan.MaxDepth), deep(jsonscan.MaxDepth+1), `{"a":`+deep(jsonscan.MaxDepth-1)+`}`, `{"a":`+deep(jsonscan.MaxDepth)+`}`) {
		checkValid(t, []byte(s))
	}
}

// The nesting limit is encoding/json's, to the level.
func TestValidDepth(t *testing.T) {
	if !jsonscan.Valid([]byte(deep(jsonscan.MaxDepth))) || jsonscan.Valid([]byte(deep(jsonscan.MaxDepth+1))) {
		t.Errorf("MaxDepth %d is not the limit", jsonscan.MaxDepth)
	}
	if end, st := jsonscan.Value([]byte(deep(3)), 0, 3); st != jsonscan.OK || end != 6 {
		t.Errorf("Value(depth 3, max 3) = %d, %v", end, st)
	}
	if _, st := jsonscan.Value([]byte(deep(4)), 0, 3); st != jsonscan.Syntax {
		t.Errorf("Value(depth 4, max 3) = %v, want Syntax", st)
	}
}

// TestStringEveryOffset puts each interesting byte at every offset of a
// long string, so the word-at-a-time scan is checked at every alignment.
func TestStringEveryOffset(t *testing.T) {
	// 80 bytes around the insert: it falls before, at and after the
	// 32 bytes after which String switches to vector scans (longString),
	// with and without a closing quote.
	for _, insert := range []string{"\t", "\x1f", "\x00", "\x7f", "\xff", " ", `\n`, `\"`, `"`, `\x`, `\u00e9`, `\`, `\\`} {
		for off := range 80 {
			s := []byte(`"` + strings.Repeat("A", off) + insert + strings.Repeat("B", 80-off) + `"`)
			checkValid(t, s)
			checkString(t, s)
			checkValid(t, s[:len(s)-1])
			checkString(t, s[:len(s)-1])
		}
	}
}

func TestTrimSpace(t *testing.T) {
	for in, want := range map[string]string{
		"": "", " \t\r\n": "", " {} ": "{}", "\u00a0{}\u00a0": "\u00a0{}\u00a0", "\v{}\n": "\v{}",
	} {
		if got := string(jsonscan.TrimSpace([]byte(in))); got != want {
			t.Errorf("TrimSpace(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMembers(t *testing.T) {
	type m struct{ Key, Val string }
	var got []m
	ok := jsonscan.Members([]byte(` {"a" : [ 1 , {"b" : "}"} ] ,"a":2, "\u0063":null} `), func(key, val []byte, start, end int) {
		got = append(got, m{string(key), string(val)})
	})
	want := []m{{`"a"`, `[ 1 , {"b" : "}"} ]`}, {`"a"`, `2`}, {`"\u0063"`, `null`}}
	if diff := cmp.Diff(want, got); !ok || diff != "" {
		t.Errorf("Members ok = %v, mismatch (-want +got):\n%s", ok, diff)
	}
	for _, notObject := range []string{"", "[]", `"x"`, "1", "null", " [{}]", `{"a":1} x`, `{"a":1`, `{"a"}`} {
		if jsonscan.Members([]byte(notObject), func(_, _ []byte, _, _ int) {}) {
			t.Errorf("Members(%q) = true", notObject)
		}
	}
}

func TestWithoutKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"token":"t"}`, `{}`},
		{`{"a":1,"token":"t","b":"x"}`, `{"a":1,"b":"x"}`},
		{`{"token":"t","a":1}`, `{"a":1}`},
		{`{"a":1,"token":"t"}`, `{"a":1}`},
		{" {\n \"token\" : \"t\" ,\r\n\t\"a\" : [ 1 , {\"b\" : \"}\"} ] } ", " {\n \"a\" : [ 1 , {\"b\" : \"}\"} ] } "},
		{`{"a":1.50 , "TOKEN":"t" , "b":[1, 2]}`, `{"a":1.50 , "b":[1, 2]}`},
		{`{"to\u006ben":"a\"b","q\\":"\\"}`, `{"q\\":"\\"}`},
		{`{"token":"a","id":"1","Token":"b","x":{"token":"kept"}}`, `{"id":"1","x":{"token":"kept"}}`},
		{`{"` + "to\u212aen" + `":"kelvin"}`, `{}`},
	}
	for _, tt := range tests {
		got, found := jsonscan.WithoutKey([]byte(tt.in), "token")
		if !found || string(got) != tt.want {
			t.Errorf("WithoutKey(%q) = %q, %v; want %q, true", tt.in, got, found, tt.want)
		}
	}
	for _, unchanged := range []string{`{}`, `{"tokens":1,"toke":2}`, `[{"token":1}]`, `{"token":1`, `{"token":1} x`, `not json`, ``} {
		got, found := jsonscan.WithoutKey([]byte(unchanged), "token")
		if found || string(got) != unchanged {
			t.Errorf("WithoutKey(%q) = %q, %v; want it unchanged", unchanged, got, found)
		}
	}
}

func TestUnquoteAndKeyIs(t *testing.T) {
	for _, lit := range []string{`"a"`, `"\u0061"`, "\"\xff\"", `"é"`, `"a`, `a"`, `""`, `"\ud800"`, `1`} {
		checkString(t, []byte(lit))
	}
	for _, tt := range []struct {
		lit, name  string
		fold, want bool
	}{
		{`"id"`, "id", false, true}, {`"ID"`, "id", false, false}, {`"ID"`, "id", true, true},
		{`"\u0069d"`, "id", false, true}, {`"\u0049D"`, "id", true, true}, {`"` + "\u017fize" + `"`, "size", true, true},
		{`"ids"`, "id", true, false}, {`"i`, "i", false, false},
	} {
		if got := jsonscan.KeyIs([]byte(tt.lit), tt.name, tt.fold); got != tt.want {
			t.Errorf("KeyIs(%s, %q, %v) = %v, want %v", tt.lit, tt.name, tt.fold, got, tt.want)
		}
	}
}

// checkValid holds Valid and Value to json.Valid, and Value's EOF to its
// meaning: the input is a well-formed prefix that more bytes can complete.
func checkValid(t *testing.T, b []byte) {
	t.Helper()
	if got, want := jsonscan.Valid(b), json.Valid(b); got != want {
		t.Fatalf("Valid(%q) = %v, json.Valid = %v", b, got, want)
	}
	i := jsonscan.SkipSpace(b, 0)
	end, st := jsonscan.Value(b, i, jsonscan.MaxDepth)
	if end < i || end > len(b) {
		t.Fatalf("Value(%q) end %d out of range", b, end)
	}
	if st == jsonscan.OK && !json.Valid(b[i:end]) {
		t.Fatalf("Value(%q) = OK through %d, json.Valid(%q) = false", b, end, b[i:end])
	}
}

// checkString holds String, Plain and Unquote to json.Unmarshal.
func checkString(t *testing.T, b []byte) {
	t.Helper()
	var want string
	wantErr := json.Unmarshal(b, &want)
	got, ok := jsonscan.Unquote(b)
	if ok != (wantErr == nil) || got != want {
		t.Fatalf("Unquote(%q) = %q, %v; json.Unmarshal = %q, %v", b, got, ok, want, wantErr)
	}
	if len(b) == 0 || b[0] != '"' {
		return
	}
	end, plain, st := jsonscan.String(b, 0)
	if st != jsonscan.OK {
		return
	}
	var s string
	if err := json.Unmarshal(b[:end], &s); err != nil {
		t.Fatalf("String(%q) = OK through %d, json.Unmarshal: %v", b, end, err)
	}
	if plain && jsonscan.Plain(b[1:end-1]) && s != string(b[1:end-1]) {
		t.Fatalf("String(%q) plain, but it decodes to %q", b, s)
	}
}

// checkMembers holds Members to encoding/json's tokens and WithoutKey to
// deleting the members from the decoded object.
func checkMembers(t *testing.T, b []byte) {
	t.Helper()
	type member struct{ Key, Val string }
	var got []member
	ok := jsonscan.Members(b, func(key, val []byte, start, end int) {
		if !bytes.HasPrefix(b[start:end], key) || !bytes.HasSuffix(b[start:end], val) {
			t.Fatalf("Members(%q): span %d:%d does not hold %q … %q", b, start, end, key, val)
		}
		k, _ := jsonscan.Unquote(key)
		got = append(got, member{k, string(val)})
	})
	tb := jsonscan.TrimSpace(b)
	isObj := len(tb) > 0 && tb[0] == '{' && json.Valid(b)
	if ok != isObj {
		t.Fatalf("Members(%q) = %v, want %v", b, ok, isObj)
	}
	out, removed := jsonscan.WithoutKey(b, "token")
	if !isObj {
		if removed || !bytes.Equal(out, b) {
			t.Fatalf("WithoutKey(%q) = %q, %v; want it unchanged", b, out, removed)
		}
		return
	}
	var want []member
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.Token() // {
	for dec.More() {
		tok, _ := dec.Token()
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		want = append(want, member{tok.(string), string(v)})
	}
	if len(got) != len(want) {
		t.Fatalf("Members(%q) saw %d members, encoding/json %d", b, len(got), len(want))
	}
	var kept []string
	for i := range want {
		if got[i].Key != want[i].Key || !jsonEqual(got[i].Val, want[i].Val) {
			t.Fatalf("Members(%q) member %d = %q, encoding/json %q", b, i, got[i], want[i])
		}
		if !strings.EqualFold(want[i].Key, "token") {
			kept = append(kept, want[i].Key)
		}
	}
	if removed != (len(kept) != len(want)) || (!removed && !bytes.Equal(out, b)) {
		t.Fatalf("WithoutKey(%q) = %q, %v with members %q", b, out, removed, want)
	}
	var after []string
	if !jsonscan.Members(out, func(key, _ []byte, _, _ int) {
		k, _ := jsonscan.Unquote(key)
		after = append(after, k)
	}) {
		t.Fatalf("WithoutKey(%q) = %q, not a JSON object", b, out)
	}
	if diff := cmp.Diff(kept, after); diff != "" {
		t.Fatalf("WithoutKey(%q) = %q, keys (-want +got):\n%s", b, out, diff)
	}
}

func jsonEqual(a, b string) bool {
	var ca, cb bytes.Buffer
	return json.Compact(&ca, []byte(a)) == nil && json.Compact(&cb, []byte(b)) == nil && bytes.Equal(ca.Bytes(), cb.Bytes())
}

// FuzzValid's seeds (run by go test) are the table tests of Valid, String,
// Unquote, Members and WithoutKey against encoding/json.
func FuzzValid(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkValid(t, b)
		checkString(t, b)
		checkMembers(t, b)
	})
}
