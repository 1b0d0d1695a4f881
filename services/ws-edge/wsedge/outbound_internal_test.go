package wsedge

import (
	"encoding/json"
	"testing"
)

// edgeActionSeeds are bodies whose reading must agree with encoding/json:
// ordinary actions, case-folded and duplicate keys, nulls, wrong types,
// escapes, invalid UTF-8, and documents that are not one object.
var edgeActionSeeds = []string{
	`{"op":"send","chat_id":"c1","content":"hi","reply_to":null,"metadata":{}}`,
	`{"op":"interrupt","session_key":"agent:main:discord:group:c1","reason":"stop"}`,
	`{"op":"interrupt","session_key":"k","reason":null}`,
	`{"OP":"send","Session_Key":"k"}`,
	`{"op":"send","op":null}`,
	`{"op":"send","op":"edit"}`,
	`{"op":5}`,
	`{"reason":1,"op":"interrupt"}`,
	`{"reason":"a","reason":null}`,
	`{"op":"s\u0065nd","session_key":"\ud83d\ude00"}`,
	"{\"op\":\"\xff\"}",
	`{"op":"send"} `,
	` {"op":"send"}`,
	`{"op":"send"}x`,
	`{"op":"send"`,
	`[{"op":"send"}]`,
	`"op"`,
	`{}`,
	``,
	`null`,
	`{"o\u0070":"send"}`,
	`{"success":true,"success":false}`,
	`{"Success":true}`,
	`{"success":true,"success":1}`,
	`{"success":"true"}`,
	`{"success":null}`,
}

// FuzzDecodeEdgeAction holds decodeEdgeAction and resultSucceeded to
// encoding/json, which they replace on ws-edge's outbound path.
func FuzzDecodeEdgeAction(f *testing.F) {
	for _, s := range edgeActionSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var want, got edgeAction
		// What ws-edge accepted before: an object, as encoding/json reads it.
		wantOK := len(body) > 0 && body[0] == '{' && json.Unmarshal(body, &want) == nil
		ok := decodeEdgeAction(body, &got)
		if ok != wantOK {
			t.Fatalf("decodeEdgeAction(%q) ok=%v, want %v (encoding/json)", body, ok, wantOK)
		}
		if ok && (got.Op != want.Op || got.SessionKey != want.SessionKey || (got.Reason == nil) != (want.Reason == nil) ||
			got.Reason != nil && *got.Reason != *want.Reason) {
			t.Fatalf("decodeEdgeAction(%q) = %+v, json.Unmarshal %+v", body, got, want)
		}
		var sr struct {
			Success bool `json:"success"`
		}
		_ = json.Unmarshal(body, &sr)
		if got := resultSucceeded(body); got != sr.Success {
			t.Fatalf("resultSucceeded(%q) = %v, json.Unmarshal says %v", body, got, sr.Success)
		}
	})
}

// BenchmarkDecodeEdgeAction compares reading a typical edge request (a
// send with egress's scope metadata) and its result in one pass with
// encoding/json, which ws-edge used before.
func BenchmarkDecodeEdgeAction(b *testing.B) {
	body := []byte(`{"op":"send","chat_id":"1234567890123456789","content":"reply 42: the answer to your question is in the pinned message","reply_to":null,` +
		`"metadata":{"guild_id":"987654321098765432","scope_id":"987654321098765432","chat_type":"group","user_id":"111222333444555666"}}`)
	result := []byte(`{"success":true,"message_id":"1300000000000000001","thread_id":null}`)
	b.Run("jsonscan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var a edgeAction
			if !decodeEdgeAction(body, &a) || !resultSucceeded(result) {
				b.Fatal("not decoded")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var a edgeAction
			var sr struct {
				Success bool `json:"success"`
			}
			if json.Unmarshal(body, &a) != nil || json.Unmarshal(result, &sr) != nil || !sr.Success {
				b.Fatal("not decoded")
			}
		}
	})
}
