package devconnector_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/relaybus/relaybus/internal/devconnector"
)

func TestAppendFrameIsEmitsFrame(t *testing.T) {
	for _, tc := range []struct {
		name, id, members string
		want              map[string]any
	}{
		{"fields", "b-7", ` {"forward":{"platform":"discord","n":1}} `,
			map[string]any{"type": "passthrough_forward", "bufferId": "b-7", "forward": map[string]any{"platform": "discord", "n": 1.0}}},
		{"no fields", "b-8", `{ }`, map[string]any{"type": "passthrough_forward", "bufferId": "b-8"}},
		{"no id", "", `{"a":"x"}`, map[string]any{"type": "passthrough_forward", "a": "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := devconnector.AppendFrame([]byte("keep"), "passthrough_forward", tc.id, []byte(tc.members))
			if string(f[:4]) != "keep" || f[len(f)-1] != '\n' {
				t.Fatalf("frame %q: want it appended, newline-ended", f)
			}
			var got map[string]any
			if err := json.Unmarshal(f[4:], &got); err != nil {
				t.Fatalf("frame %q is not JSON: %v", f[4:], err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("frame = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEmitJSONRefusesNonObjects(t *testing.T) {
	s, err := devconnector.New(devconnector.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"", "[]", `"x"`, "{", "}"} {
		if _, err := s.EmitJSON("passthrough_forward", []byte(m)); !errors.Is(err, devconnector.ErrBadFields) {
			t.Errorf("EmitJSON(%q) = %v, want ErrBadFields", m, err)
		}
	}
	if s.State().Buffered != 0 {
		t.Errorf("%d frames buffered, want none", s.State().Buffered)
	}
}
