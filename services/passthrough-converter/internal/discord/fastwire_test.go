package discord

import (
	"encoding/json"
	"reflect"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fastSeeds are the fixtures plus bodies at the edges of the fast
// decoders' subset: each must decode exactly as encoding/json does, or be
// handed to it.
func fastSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	seeds := readFixtures(tb)
	for _, s := range []string{
		`{}`, ` { } `, `null`, `[]`, `{"id":null,"type":null,"data":null,"member":null}`,
		`{"id":"1","ID":"2"}`, `{"ID":"2"}`, `{"id":"1","id":"2"}`, `{"data":{},"data":{}}`,
		`{"ſ":1}`, `{"K":1}`, `{"\u0069d":"x"}`, `{"x-y":1,"_":[],"9":{}}`,
		`{"id":"a\"b","user":{"username":"\u00e9\ud800","global_name":null,"bot":true}}`,
		"{\"id\":\"\xff\"}", "{\"id\":\"\x01\"}", `{"id":"é😀"}`,
		`{"type":1.0}`, `{"type":1e2}`, `{"type":-0}`, `{"type":01}`, `{"type":-}`, `{"type":9223372036854775808}`,
		`{"type":"2"}`, `{"user":{"bot":"true"}}`, `{"user":{"bot":null}}`, `{"user":[]}`,
		`{"data":{"id":123,"values":[],"options":[]}}`, `{"data":{"values":null,"options":null}}`,
		`{"data":{"values":[1,"a",null,true,{"a":[]}],"options":[{"value":null},{"options":[{"name":"x","value":2.5e-3}]}]}}`,
		`{"data":{"options":[null]}}`, `{"data":{"values":{}}}`,
		`{"authorizing_integration_owners":{"0":"1","1":2,"0":null,"\u0032":[]}}`, `{"authorizing_integration_owners":{}}`,
		`{"authorizing_integration_owners":null}`, `{"authorizing_integration_owners":{"a":1,}}`,
		`{"data":{"resolved":{"users":{"1":{"id":"1"},"1":{"username":"u"}},"attachments":{"a":{"size":12,"url":"u"}},"roles":{"r":{"name":"n"}}}}}`,
		`{"data":{"components":[{"type":1,"components":[{"type":4,"custom_id":"c","value":"v"}]},{"type":18,"component":{"type":3,"values":["a"]}},{"accessory":null}]}}`,
		`{"id":"1","guild":{"name_localizations":{"en-US":"x","\u00e9":1,"K":[]}},"Data":null}`,
		`{"id":"1","guild":{"name_localizations":{"en-US":"x","\u00e9":1,"K":[]}}}`,
		`{"a":[1,2,]}`, `{"a":1,}`, `{"a" 1}`, `{"a":tru}`, `{"a":nul}`, `{"a":"\x"}`, `{"a":"\u12"}`, `{"a":-01}`, `{"a":1.}`, `{"a":1e}`, `{"a":.5}`,
		`{"id":"1"} x`, `{"id":"1"}}`, `{"id":"1"`, `{"id"`, `{`, ``,
		`{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// checkFast asserts that when a fast decoder accepts b, encoding/json
// accepts it too and produces the same value.
func checkFast[T any](t *testing.T, name string, b []byte, fast func([]byte, *T) bool) bool {
	t.Helper()
	var got, want T
	if !fast(b, &got) {
		return false
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("%s accepted %q, encoding/json refuses it: %v", name, b, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("%s(%q) differs from encoding/json (-want +got):\n%s", name, b, diff)
	}
	return true
}

func checkAllFast(t *testing.T, b []byte) {
	t.Helper()
	if checkFast(t, "fastDecodeInteraction", b, fastDecodeInteraction) {
		// Feed the lenient decoders the real parts too.
		var in wireInteraction
		_ = json.Unmarshal(b, &in)
		if in.Data != nil {
			checkFast(t, "fastDecodeResolved", in.Data.Resolved, fastDecodeResolved)
			checkFast(t, "fastDecodeComponents", in.Data.Components, fastDecodeComponents)
		}
		if in.Message != nil {
			checkFast(t, "fastDecodeComponents", in.Message.Components, fastDecodeComponents)
		}
	}
	checkFast(t, "fastDecodeResolved", b, fastDecodeResolved)
	checkFast(t, "fastDecodeComponents", b, fastDecodeComponents)
}

func TestFastDecodersAgreeWithEncodingJSON(t *testing.T) {
	for _, b := range fastSeeds(t) {
		checkAllFast(t, b)
	}
}

// Every fixture takes the fast path: a regression here would silently
// double the converter's cost.
func TestFastDecoderTakesEveryFixture(t *testing.T) {
	for i, b := range readFixtures(t) {
		var in wireInteraction
		if !fastDecodeInteraction(b, &in) {
			t.Errorf("fixture %d: fast path refused a real interaction", i)
			continue
		}
		if in.Data != nil && len(in.Data.Resolved) > 0 && !fastDecodeResolved(in.Data.Resolved, new(wireResolved)) {
			t.Errorf("fixture %d: fast path refused data.resolved", i)
		}
		if in.Data != nil && len(in.Data.Components) > 0 && !fastDecodeComponents(in.Data.Components, new([]wireComponent)) {
			t.Errorf("fixture %d: fast path refused data.components", i)
		}
		if in.Message != nil && len(in.Message.Components) > 0 && !fastDecodeComponents(in.Message.Components, new([]wireComponent)) {
			t.Errorf("fixture %d: fast path refused message.components", i)
		}
	}
}

// Keys of skipped subtrees (localization maps such as {"en-US": ...}) can
// never be fields, so they keep the fast path.
func TestFastDecoderSkipsAnyKeyInUnknownSubtrees(t *testing.T) {
	b := []byte(`{"id":"1","guild":{"name_localizations":{"en-US":"x","\u00e9":1,"K":[]}}}`)
	if !checkFast(t, "fastDecodeInteraction", b, fastDecodeInteraction) {
		t.Fatalf("fast path refused %s", b)
	}
}

func FuzzFastDecoders(f *testing.F) {
	for _, b := range fastSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkAllFast(t, b) })
}

// TestFastDecodersReadEveryField fills every field of every wire type (by
// reflection over wire.go's structs, so a field added there is covered
// without touching this test), encodes it with encoding/json, and requires
// the fast decoders to take it and to read it back exactly as
// encoding/json does: the fast path cannot skip or misread a field.
func TestFastDecodersReadEveryField(t *testing.T) {
	check := func(name string, v any, fast func([]byte) (any, bool), std func([]byte) (any, error)) {
		t.Helper()
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := fast(b)
		if !ok {
			t.Fatalf("%s: fast path refused %s", name, b)
		}
		want, err := std(b)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("%s(%s) differs from encoding/json (-want +got):\n%s", name, b, diff)
		}
		// Every field reached the decoded value: it encodes back to the
		// same document.
		again, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		if string(again) != string(b) {
			t.Fatalf("%s lost a field:\n in: %s\nout: %s", name, b, again)
		}
	}
	var in wireInteraction
	fill(reflect.ValueOf(&in).Elem(), 0)
	check("fastDecodeInteraction", in,
		func(b []byte) (any, bool) { var v wireInteraction; return v, fastDecodeInteraction(b, &v) },
		func(b []byte) (any, error) { var v wireInteraction; return v, json.Unmarshal(b, &v) })
	var res wireResolved
	fill(reflect.ValueOf(&res).Elem(), 0)
	check("fastDecodeResolved", res,
		func(b []byte) (any, bool) { var v wireResolved; return v, fastDecodeResolved(b, &v) },
		func(b []byte) (any, error) { var v wireResolved; return v, json.Unmarshal(b, &v) })
	var comps []wireComponent
	fill(reflect.ValueOf(&comps).Elem(), 0)
	check("fastDecodeComponents", comps,
		func(b []byte) (any, bool) { var v []wireComponent; return v, fastDecodeComponents(b, &v) },
		func(b []byte) (any, error) { var v []wireComponent; return v, json.Unmarshal(b, &v) })
}

// fill sets every field of v to a non-zero value, two levels of recursive
// types deep.
func fill(v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("s" + strconv.Itoa(depth))
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(7 + depth))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		if depth > 2 {
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), depth+1)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), depth)
		}
	case reflect.Slice:
		if v.Type() == reflect.TypeFor[json.RawMessage]() {
			v.SetBytes([]byte(`{"raw":[1,"x"]}`))
			return
		}
		if depth > 2 {
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), depth+1)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		e := reflect.New(v.Type().Elem()).Elem()
		fill(e, depth+1)
		v.SetMapIndex(reflect.ValueOf("k"), e)
	default:
		panic("fill: a wire field of kind " + v.Kind().String() + "; teach fill (and check the fast path) about it")
	}
}
