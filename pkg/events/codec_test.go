package events_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/relaybus/relaybus/pkg/events"
)

func TestMarshalUnmarshal(t *testing.T) {
	in := events.Scope{ScopeID: "g1", UserID: "u1", Platform: "discord", ChatType: "group", Profile: "p", UpdatedAt: "2025-01-02T03:04:05Z"}
	for _, ct := range []string{events.ContentTypeMsgpack, "", events.ContentTypeJSON, "application/json; charset=utf-8"} {
		t.Run(ct, func(t *testing.T) {
			b, err := events.Marshal(in, ct)
			if err != nil {
				t.Fatalf("Marshal(%q) error = %v", ct, err)
			}
			var out events.Scope
			if err := events.Unmarshal(b, ct, &out); err != nil {
				t.Fatalf("Unmarshal(%q) error = %v", ct, err)
			}
			if diff := cmp.Diff(in, out); diff != "" {
				t.Fatalf("round trip mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMarshalUnsupported(t *testing.T) {
	_, err := events.Marshal(events.Scope{}, "text/plain")
	checkReason(t, "Marshal(text/plain)", err, events.ReasonBadEncoding, events.ContentTypeHeader)
	err = events.Unmarshal([]byte(`{}`), "text/plain", &events.Scope{})
	checkReason(t, "Unmarshal(text/plain)", err, events.ReasonBadEncoding, events.ContentTypeHeader)
}

func TestUnmarshalBad(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		ct   string
	}{
		{"MsgpackEmpty", nil, events.ContentTypeMsgpack},
		{"MsgpackHugeArray", []byte{0x81, 0xaa, 'm', 'e', 'd', 'i', 'a', '_', 'u', 'r', 'l', 's', 0xdd, 0xff, 0xff, 0xff, 0xff}, events.ContentTypeMsgpack},
		{"MsgpackHugeMediaSlice", []byte{0x81, 0xa5, 'm', 'e', 'd', 'i', 'a', 0xdd, 0x7f, 0xff, 0xff, 0xff, 0x80}, events.ContentTypeMsgpack},
		{"MsgpackTrailing", []byte{0x80, 0x80}, events.ContentTypeMsgpack},
		{"MsgpackWrongType", []byte{0x81, 0xa4, 't', 'e', 'x', 't', 0x05}, events.ContentTypeMsgpack},
		{"JSONBroken", []byte(`{"text":`), events.ContentTypeJSON},
		{"JSONWrongType", []byte(`{"text":5}`), events.ContentTypeJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e events.MessageEvent
			err := events.Unmarshal(tt.data, tt.ct, &e)
			checkReason(t, "Unmarshal", err, events.ReasonBadEncoding, "")
		})
	}
}
