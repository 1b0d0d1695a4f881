package discord_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/services/passthrough-converter/internal/discord"
)

// tokenMarker replaces a body's token in FuzzConvert. It is alphanumeric, so
// the converter's separators (" ", "/", "=", ",", "@", "#", newline) cannot
// build it out of two shorter strings: it can reach an event only by being
// copied from one string of the body.
const tokenMarker = "aW50ZXJhY3Rpb246TOKENMARKER0123456789xyz"

// fuzzSeeds are every fixture plus the inline bodies of the unit tests.
func fuzzSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	seeds := discord.ReadFixtures(tb)
	for _, s := range []string{
		`interaction`, ``, `[{"id":"1","type":2}]`, `null`,
		`{"id":786008729715212338,"type":2,"channel_id":"c"}`,
		`{"type":2,"channel_id":"c","data":{"name":"new"}}`,
		`{"id":"1","type":2,"guild_id":"g","data":{"name":"new"}}`,
		`{"id":"1","type":99,"channel_id":"c"}`,
		`{"id":"1","type":2,"channel_id":"c","data":"new"}`,
		`{"id":"1","type":2,"channel_id":"c","data":{"name":"model","options":{"name":"x"}}}`,
		`{"id":"1","type":2,"channel_id":"c","data":{"name":"n","options":[{"name":"a","type":4,"value":1e3},{"name":"c","type":10,"value":2.50}]}}`,
		`{"id":"1","type":3,"channel_id":"c","guild_id":"g","data":{"custom_id":"hp1:p.1:opt_2-x","component_type":2},"message":{"id":"m"}}`,
		`{"id":"1","type":5,"channel_id":"c","data":{"custom_id":"m","components":[{"type":99,"components":[{"type":4,"custom_id":"deep","value":"v"}]},{"type":18,"component":{"type":23,"custom_id":"cb","value":true}}]}}`,
		`{"Token":"t1","token":"t3","id":"8","type":2,"channel_id":"c","data":{"name":"x"}}`,
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// FuzzConvert checks that Convert never panics, classifies every failure,
// and that the token never matters: removing it (StripToken) changes
// nothing, and a marker put in its place never reaches the event.
func FuzzConvert(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := discord.Convert(body, testForward)
		if err != nil {
			var fe *events.FrameError
			if !errors.Is(err, discord.ErrPing) && !errors.Is(err, discord.ErrAutocomplete) && !errors.As(err, &fe) {
				t.Fatalf("Convert error %T %v is neither a sentinel nor a *FrameError", err, err)
			}
		} else {
			if ev.Source.Platform != "discord" || ev.MessageID == "" || ev.Source.ChatID == "" || ev.Interaction == nil {
				t.Fatalf("Convert event lacks required parts: %+v", ev)
			}
			if ev.SessionKey != events.SessionKey(ev.Source, events.SessionKeyOptions{}) {
				t.Fatalf("SessionKey %q does not match its source", ev.SessionKey)
			}
		}

		// Removing the token changes nothing.
		stripped, _ := discord.StripToken(body)
		ev2, err2 := discord.Convert(stripped, testForward)
		if errString(err) != errString(err2) {
			t.Fatalf("Convert error changed after StripToken: %v / %v", err, err2)
		}
		if diff := cmp.Diff(ev, ev2); diff != "" {
			t.Fatalf("Convert changed after StripToken (-body +stripped):\n%s", diff)
		}

		// A token (replaced by a marker) never reaches the event.
		marked, ok := withMarkerToken(body)
		if !ok || containsString(marked, tokenMarker) {
			return
		}
		ev3, err := discord.Convert(marked, testForward)
		if err != nil {
			if strings.Contains(err.Error(), tokenMarker) {
				t.Fatalf("Convert error quotes the token: %v", err)
			}
			return
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(ev3); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(buf.Bytes(), []byte(tokenMarker)) {
			t.Fatalf("event contains the token: %s", buf.Bytes())
		}
	})
}

// withMarkerToken re-encodes a JSON object body with its top-level token
// (any key case) replaced by tokenMarker. ok is false for bodies that are
// not JSON objects.
func withMarkerToken(body []byte) ([]byte, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil || m == nil {
		return nil, false
	}
	for k := range m {
		if strings.EqualFold(k, "token") {
			delete(m, k)
		}
	}
	m["token"] = json.RawMessage(`"` + tokenMarker + `"`)
	b, err := json.Marshal(m)
	if err != nil {
		return nil, false
	}
	return b, true
}

// containsString reports whether any key or string of body other than the
// top-level token contains s (after JSON unescaping).
func containsString(body []byte, s string) bool {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return true // be conservative
	}
	if m, ok := v.(map[string]any); ok {
		delete(m, "token")
	}
	var walk func(any) bool
	walk = func(v any) bool {
		switch x := v.(type) {
		case string:
			return strings.Contains(x, s)
		case map[string]any:
			for k, e := range x {
				if strings.Contains(k, s) || walk(e) {
					return true
				}
			}
		case []any:
			for _, e := range x {
				if walk(e) {
					return true
				}
			}
		}
		return false
	}
	return walk(v)
}

// FuzzStripToken checks that StripToken never panics, never modifies its
// input, and removes exactly the top-level token members of a JSON object.
func FuzzStripToken(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Add([]byte("{\n  \"a\" : 1.50 ,\n  \"token\" : \"x\" ,\n  \"b\" : [1, 2]\n}\n"))
	f.Add([]byte(`{"token":"x","token":"y","a":1,"token":"z"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		got, found := discord.StripToken(body)
		if !bytes.Equal(body, orig) {
			t.Fatal("StripToken modified its input")
		}
		before := members(t, body)
		if before == nil || !json.Valid(body) {
			if found || !bytes.Equal(got, body) {
				t.Fatalf("StripToken(%q) = %q, %v; want the body unchanged", body, got, found)
			}
			return
		}
		want := deleteKey(before, "token")
		if !found && !bytes.Equal(got, body) {
			t.Fatalf("StripToken(%q) = %q without a token; want the body unchanged", body, got)
		}
		if found != (len(want) != len(before)) {
			t.Fatalf("StripToken(%q) found = %v with members %v", body, found, before)
		}
		if !json.Valid(got) {
			t.Fatalf("StripToken(%q) = %q, not valid JSON", body, got)
		}
		if diff := cmp.Diff(want, members(t, got)); found && diff != "" {
			t.Fatalf("StripToken(%q) members mismatch (-want +got):\n%s", body, diff)
		}
	})
}
