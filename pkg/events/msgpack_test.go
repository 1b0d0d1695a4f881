package events

// White-box: the hand-written MessagePack codec (msgpack.go) held to the
// reflection codec it replaced, which stays here as the oracle.

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vmihailenco/msgpack/v5"
)

// reflectMarshal is the reflection encoder the hand-written one replaced:
// msgpack.Marshal with sorted map keys.
func reflectMarshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.SetSortMapKeys(true)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// reflectUnmarshal is the reflection decoder the hand-written one
// replaced: msgpack.Unmarshal behind checkMsgpack.
func reflectUnmarshal(data []byte, v any) error {
	if err := checkMsgpack(data); err != nil {
		return err
	}
	return msgpack.Unmarshal(data, v)
}

// reflectDecodeAction is DecodeAction's MessagePack branch as it was,
// decoding by reflection (what follows the decoding is shared).
func reflectDecodeAction(data []byte, subjectOp string) (Action, error) {
	var a Action
	if err := checkMsgpack(data); err != nil {
		return Action{}, &ActionError{Reason: ReasonBadEncoding, Detail: err.Error()}
	}
	if c := data[0]; !(c >= 0x80 && c <= 0x8f || c == 0xde || c == 0xdf) {
		return Action{}, &ActionError{Reason: ReasonNotObject, Detail: "action is not a MessagePack map"}
	}
	if err := msgpack.Unmarshal(data, &a); err != nil {
		return Action{}, actionTypeError(err, func(m *map[string]any) error { return msgpack.Unmarshal(data, m) })
	}
	return completeAction(a, subjectOp)
}

// codecTypes are the types with a hand-written codec.
var codecTypes = []reflect.Type{
	reflect.TypeFor[MessageEvent](), reflect.TypeFor[Action](), reflect.TypeFor[SendResult](),
	reflect.TypeFor[Interrupt](), reflect.TypeFor[Scope](),
}

// codecTags are the msgpack tags of the fields of every struct codec.
var codecTags = map[reflect.Type][]string{
	reflect.TypeFor[MessageEvent]():   tagsOf(messageEventCodec),
	reflect.TypeFor[Media]():          tagsOf(mediaCodec),
	reflect.TypeFor[SessionSource]():  tagsOf(sessionSourceCodec),
	reflect.TypeFor[PromptResponse](): tagsOf(promptResponseCodec),
	reflect.TypeFor[ForwardInfo]():    tagsOf(forwardInfoCodec),
	reflect.TypeFor[Interaction]():    tagsOf(interactionCodec),
	reflect.TypeFor[Command]():        tagsOf(commandCodec),
	reflect.TypeFor[CommandOption]():  tagsOf(commandOptionCodec),
	reflect.TypeFor[CommandTarget]():  tagsOf(commandTargetCodec),
	reflect.TypeFor[Component]():      tagsOf(componentCodec),
	reflect.TypeFor[Modal]():          tagsOf(modalCodec),
	reflect.TypeFor[ModalField]():     tagsOf(modalFieldCodec),
	reflect.TypeFor[Interrupt]():      tagsOf(interruptCodec),
	reflect.TypeFor[Scope]():          tagsOf(scopeCodec),
	reflect.TypeFor[Action]():         tagsOf(actionCodec),
	reflect.TypeFor[SendResult]():     tagsOf(sendResultCodec),
	reflect.TypeFor[ChatInfo]():       tagsOf(chatInfoCodec),
}

// tagsOf returns the tags of a codec's fields, in order.
func tagsOf[T any](c *structCodec[T]) []string {
	var tags []string
	for _, f := range c.fields {
		tags = append(tags, f.tag)
	}
	return tags
}

// msgpackOpts compares decoded values: NaN equals NaN (metadata floats).
var msgpackOpts = cmpopts.EquateNaNs()

// filled returns a value of typ with every field set to a distinct
// non-zero value, at every depth: two elements per slice, two entries per
// map (inserted out of order, to show key sorting).
func filled(typ reflect.Type) reflect.Value {
	v := reflect.New(typ).Elem()
	n := 0
	var fill func(v reflect.Value)
	fill = func(v reflect.Value) {
		n++
		switch v.Kind() {
		case reflect.String:
			v.SetString(fmt.Sprintf("value-%d", n))
		case reflect.Bool:
			v.SetBool(true)
		case reflect.Int64:
			v.SetInt(1<<40 + int64(n))
		case reflect.Pointer:
			v.Set(reflect.New(v.Type().Elem()))
			fill(v.Elem())
		case reflect.Slice:
			v.Set(reflect.MakeSlice(v.Type(), 2, 2))
			fill(v.Index(0))
			fill(v.Index(1))
		case reflect.Map:
			v.Set(reflect.MakeMap(v.Type()))
			for _, k := range []string{"zz", "aa"} {
				e := reflect.New(v.Type().Elem()).Elem()
				if e.Kind() == reflect.Interface {
					e.Set(reflect.ValueOf(map[string]any{"y": int64(n), "b": []any{"x", true, 1.5}}))
				} else {
					fill(e)
				}
				v.SetMapIndex(reflect.ValueOf(k), e)
			}
		case reflect.Struct:
			for i := range v.NumField() {
				fill(v.Field(i))
			}
		default:
			panic("filled: no value for " + v.Type().String())
		}
	}
	fill(v)
	return v
}

// leaves calls f with every settable field of v, at every depth, after the
// field's own fields.
func leaves(v reflect.Value, path string, f func(path string, field reflect.Value)) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			leaves(v.Elem(), path, f)
		}
	case reflect.Slice:
		for i := range v.Len() {
			leaves(v.Index(i), fmt.Sprintf("%s[%d]", path, i), f)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			p := path + "." + v.Type().Field(i).Name
			leaves(v.Field(i), p, f)
			f(p, v.Field(i))
		}
	}
}

// checkAgrees fails unless the hand-written codec encodes v (a value of a
// codec type) to the reflection encoding, and decodes that back to v as
// the reflection decoder does.
func checkAgrees(t *testing.T, what string, v reflect.Value) {
	t.Helper()
	want, err := reflectMarshal(v.Interface())
	if err != nil {
		t.Fatalf("%s: reflection Marshal: %v", what, err)
	}
	got, err := marshalMsgpack(v.Interface())
	if err != nil {
		t.Fatalf("%s: Marshal: %v", what, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: Marshal differs from the reflection encoding:\n got % x\nwant % x", what, got, want)
	}
	back := reflect.New(v.Type())
	if err := unmarshalMsgpack(want, back.Interface()); err != nil {
		t.Fatalf("%s: Unmarshal: %v", what, err)
	}
	if diff := cmp.Diff(v.Interface(), back.Elem().Interface(), msgpackOpts); diff != "" {
		t.Fatalf("%s: Unmarshal mismatch (-want +got):\n%s", what, diff)
	}
}

// TestMsgpackCoversEveryField guards against a field added to a struct but
// not to its hand-written codec: every field set, and every field in turn
// zeroed (omitempty), must encode as reflection encodes it and decode back.
func TestMsgpackCoversEveryField(t *testing.T) {
	for _, typ := range codecTypes {
		t.Run(typ.Name(), func(t *testing.T) {
			checkAgrees(t, "zero value", reflect.New(typ).Elem())
			v := filled(typ)
			checkAgrees(t, "every field set", v)
			leaves(v, typ.Name(), func(path string, field reflect.Value) {
				saved := reflect.ValueOf(field.Interface())
				field.SetZero()
				checkAgrees(t, path+" zeroed", v)
				field.Set(saved)
			})
		})
	}
}

// TestMsgpackKeys checks each struct codec's fields (their order is the
// field order of an array-encoded struct) against the struct's msgpack
// tags, and that every struct the codec types contain has a codec.
func TestMsgpackKeys(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var walk func(typ reflect.Type)
	walk = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] {
			return
		}
		seen[typ] = true
		var tags []string
		for i := range typ.NumField() {
			f := typ.Field(i)
			tag := f.Tag.Get("msgpack")
			if name, _, _ := strings.Cut(tag, ","); name == "" || name == "-" {
				t.Errorf("%s.%s has no msgpack key", typ.Name(), f.Name)
				continue
			}
			tags = append(tags, tag)
			walk(f.Type)
		}
		codec, ok := codecTags[typ]
		if !ok {
			t.Errorf("%s has no codec (msgpack_types.go)", typ.Name())
			return
		}
		if diff := cmp.Diff(tags, codec); diff != "" {
			t.Errorf("%s codec fields differ from its msgpack tags (-tags +codec):\n%s", typ.Name(), diff)
		}
	}
	for _, typ := range codecTypes {
		walk(typ)
	}
	if len(seen) != len(codecTags) {
		t.Errorf("codecTags lists %d structs, the codec types contain %d", len(codecTags), len(seen))
	}
}

// TestMsgpackMapHeader covers the map16 header of a struct with 16 entries
// (a source with every key set).
func TestMsgpackMapHeader(t *testing.T) {
	src := filled(reflect.TypeFor[SessionSource]()).Interface().(SessionSource)
	b, err := sessionSourceCodec.appendMsgpack(nil, &src)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 0xde || b[1] != 0 || b[2] != 16 {
		t.Fatalf("header % x, want de 00 10", b[:3])
	}
	checkAgrees(t, "source", reflect.ValueOf(MessageEvent{Source: src}))
}

// msgpackSeeds are inputs the hand-written decoder must read as the
// reflection decoder does, beyond the encodings of real values: the
// corners of msgpack/v5's decoding.
var msgpackSeeds = [][]byte{
	{0xc0},                             // nil: the zero value
	{0x90},                             // an empty array: the zero value
	{0x80},                             // an empty map: the value decoded into, unchanged
	{0x93, 1, 2},                       // an array of the wrong length
	{0x81, 0xc0, 0x01},                 // a nil key
	{0x81, 0xc4, 0x01, 'x', 0xa1, 'y'}, // a bin key
	{0x81, 0xa4, 't', 'e', 'x', 't', 0xc4, 1, 'x'},                 // a bin string
	{0x81, 0xa4, 't', 'e', 'x', 't', 0xcb, 0, 0, 0, 0, 0, 0, 0, 0}, // a float for a string
	{0x81, 0xa4, 's', 'i', 'z', 'e', 0xd0, 0x80},                   // an int8
	{0x81, 0xa5, 'm', 'e', 'd', 'i', 'a', 0xc0},                    // nil media
	{0x81, 0xa5, 'm', 'e', 'd', 'i', 'a', 0x90},                    // empty media
	{0x81, 0xa5, 'm', 'e', 'd', 'i', 'a', 0x91, 0x96, 0xa1, 'u', 0xa1, 'k', 0xa1, 'm', 0xd3, 0, 0, 0, 0, 0, 0, 0, 7, 0xc0, 0xc0}, // array-encoded media
	{0x82, 0xa5, 'm', 'e', 'd', 'i', 'a', 0x92, 0x81, 0xa3, 'u', 'r', 'l', 0xa1, 'a', 0x80,
		0xa5, 'm', 'e', 'd', 'i', 'a', 0x91, 0x81, 0xa4, 'k', 'i', 'n', 'd', 0xa1, 'b'}, // a repeated key merges
	{0x81, 0xa8, 'm', 'e', 't', 'a', 'd', 'a', 't', 'a', 0xd4, 0x00, 0x80},                                                             // an ext before a map
	{0x81, 0xa8, 'm', 'e', 't', 'a', 'd', 'a', 't', 'a', 0x83, 0xa1, 'a', 0xa1, 'x', 0xc4, 1, 'b', 0xd9, 1, 'y', 0xa1, 'a', 0xa1, 'z'}, // str values, a bin key, a repeated key
	{0x81, 0xa8, 'm', 'e', 't', 'a', 'd', 'a', 't', 'a', 0x82, 0xa1, 'a', 0xa1, 'x', 0xa1, 'b', 0xc4, 1, 'y'},                          // a bin value
	{0x81, 0xa8, 'm', 'e', 't', 'a', 'd', 'a', 't', 'a', 0x81, 0xa1, 'a', 0xc0},                                                        // a nil value
	{0x81, 0xa8, 'm', 'e', 't', 'a', 'd', 'a', 't', 'a', 0xc0},                                                                         // nil metadata
	{0x81, 0xa6, 's', 'o', 'u', 'r', 'c', 'e', 0xd4, 0x00, 0x80},                                                                       // an ext for a struct
	{0x81, 0xd9, 0x21, 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x',
		'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 0xc0}, // a long unknown key
}

// FuzzMsgpackAgreesWithReflection decodes random input into each codec type
// with the hand-written decoder and by reflection, into a zero value and
// into one with every field set: both must fail or give equal values. A
// value decoded must encode to the reflection encoding.
func FuzzMsgpackAgreesWithReflection(f *testing.F) {
	for _, typ := range codecTypes {
		for _, v := range []reflect.Value{reflect.New(typ).Elem(), filled(typ)} {
			b, err := reflectMarshal(v.Interface())
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	for _, b := range msgpackSeeds {
		f.Add(b)
	}
	for _, tc := range hostileAfterExt {
		f.Add(tc.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, typ := range codecTypes {
			for _, start := range []string{"zero", "filled"} {
				got, want := reflect.New(typ), reflect.New(typ)
				if start == "filled" {
					got.Elem().Set(filled(typ))
					want.Elem().Set(filled(typ))
				}
				gerr := unmarshalMsgpack(data, got.Interface())
				if oracleWouldCrash(data, gerr) {
					continue
				}
				werr := reflectUnmarshal(data, want.Interface())
				if (gerr == nil) != (werr == nil) {
					t.Fatalf("%s into %s: error %v, reflection error %v", typ.Name(), start, gerr, werr)
				}
				if gerr != nil {
					continue
				}
				if diff := cmp.Diff(want.Interface(), got.Interface(), msgpackOpts); diff != "" {
					t.Fatalf("%s into %s differs from reflection (-reflection +got):\n%s", typ.Name(), start, diff)
				}
				checkEncodeAgrees(t, got.Elem().Interface())
			}
		}
		if oracleWouldCrash(data, unmarshalMsgpack(data, new(Action))) {
			return
		}
		for _, op := range []string{"", OpSend} {
			a, err := DecodeAction(data, ContentTypeMsgpack, op)
			wa, werr := reflectDecodeAction(data, op)
			if Reason(err) != Reason(werr) || fieldOf(err) != fieldOf(werr) {
				t.Fatalf("DecodeAction(%q) error %v, reflection error %v", op, err, werr)
			}
			if diff := cmp.Diff(wa, a, msgpackOpts); diff != "" {
				t.Fatalf("DecodeAction(%q) differs from reflection (-reflection +got):\n%s", op, diff)
			}
		}
	})
}

// oracleWouldCrash reports whether the hand-written decoder rejected
// data, which checkMsgpack accepts, for a length that cannot fit: the
// reflection decoder would allocate what it claims and the runtime abort
// (TestMsgpackHostileLengthAfterExt).
func oracleWouldCrash(data []byte, err error) bool {
	return errors.Is(err, errMsgpackLength) && checkMsgpack(data) == nil
}

// hostileAfterExt are payloads that pass checkMsgpack but hide a length of
// 2^31-1 in an ext's data, which msgpack/v5 reads as the map a
// map-typed field holds (DecodeMapLen skips an ext header): by
// reflection each made the process die of "out of memory".
var hostileAfterExt = map[string]struct {
	data []byte
	v    any
}{
	// {"interaction": {"authorizing_integration_owners": ext8(0x80 "media" array32)}, "x": nil}
	"MessageEvent": {append(append(append(append([]byte{0x82, 0xab}, "interaction"...), 0x81, 0xbe), "authorizing_integration_owners"...),
		0xc7, 12, 0x00, 0x80, 0xa5, 'm', 'e', 'd', 'i', 'a', 0xdd, 0x7f, 0xff, 0xff, 0xff, 0xa1, 'x', 0xc0), new(MessageEvent)},
	// {"op": "send", "metadata": ext8(0x81 "k" array32), "x": nil}
	"Action": {append(append([]byte{0x83, 0xa2, 'o', 'p', 0xa4, 's', 'e', 'n', 'd', 0xa8}, "metadata"...),
		0xc7, 8, 0x00, 0x81, 0xa1, 'k', 0xdd, 0x7f, 0xff, 0xff, 0xff, 0xa1, 'x', 0xc0), new(Action)},
}

func TestMsgpackHostileLengthAfterExt(t *testing.T) {
	for name, tc := range hostileAfterExt {
		t.Run(name, func(t *testing.T) {
			if err := checkMsgpack(tc.data); err != nil {
				t.Fatalf("checkMsgpack = %v, want nil (the decoder must catch it)", err)
			}
			if err := Unmarshal(tc.data, ContentTypeMsgpack, tc.v); Reason(err) != ReasonBadEncoding {
				t.Fatalf("Unmarshal error = %v, want bad_encoding", err)
			}
			if err := unmarshalMsgpack(tc.data, tc.v); !errors.Is(err, errMsgpackLength) {
				t.Fatalf("unmarshalMsgpack error = %v, want %v", err, errMsgpackLength)
			}
		})
	}
	_, err := DecodeAction(hostileAfterExt["Action"].data, ContentTypeMsgpack, "")
	if Reason(err) != ReasonBadEncoding {
		t.Fatalf("DecodeAction error = %v, want bad_encoding", err)
	}
	// An ext header before a map that fits is read as msgpack/v5 reads it.
	meta := append(append([]byte{0x82, 0xa2, 'o', 'p', 0xa4, 's', 'e', 'n', 'd', 0xa8}, "metadata"...), 0xd4, 0x00, 0x80)
	checkDecodeAgrees(t, meta, new(Action), new(Action))
}

// checkDecodeAgrees fails unless data decodes into got as the reflection
// decoder decodes it into want.
func checkDecodeAgrees(t *testing.T, data []byte, got, want any) {
	t.Helper()
	gerr := unmarshalMsgpack(data, got)
	werr := reflectUnmarshal(data, want)
	if (gerr == nil) != (werr == nil) {
		t.Fatalf("Unmarshal(% x) error %v, reflection error %v", data, gerr, werr)
	}
	if diff := cmp.Diff(want, got, msgpackOpts); diff != "" {
		t.Fatalf("Unmarshal(% x) differs from reflection (-reflection +got):\n%s", data, diff)
	}
}

// checkEncodeAgrees fails unless Marshal and the reflection encoder both
// fail on v or give the same bytes.
func checkEncodeAgrees(t *testing.T, v any) {
	t.Helper()
	got, gerr := marshalMsgpack(v)
	want, werr := reflectMarshal(v)
	if (gerr == nil) != (werr == nil) || !bytes.Equal(got, want) {
		t.Fatalf("Marshal(%+v) = % x, %v; reflection % x, %v", v, got, gerr, want, werr)
	}
}

// fieldOf is the Field of an *ActionError ("" for any other error).
func fieldOf(err error) string {
	var ae *ActionError
	if errors.As(err, &ae) {
		return ae.Field
	}
	return ""
}

// TestMsgpackMetadataEncodeError covers metadata that MessagePack cannot
// hold: Marshal fails as reflection fails.
func TestMsgpackMetadataEncodeError(t *testing.T) {
	a := Action{Op: OpSend, Metadata: map[string]any{"f": func() {}}}
	if _, err := marshalMsgpack(a); err == nil {
		t.Fatal("Marshal of a func in metadata succeeded")
	}
	if _, err := reflectMarshal(a); err == nil {
		t.Fatal("reflection Marshal of a func in metadata succeeded")
	}
	checkEncodeAgrees(t, Action{Op: OpSend, Metadata: map[string]any{"nan": math.NaN(), "inf": math.Inf(1)}})
}

// TestMsgpackLengthFormats covers each length format at its bounds:
// fixstr, str8, str16 and str32; fixarray, array16 and array32; fixmap and
// map16.
func TestMsgpackLengthFormats(t *testing.T) {
	for _, n := range []int{1, 15, 16, 31, 32, 255, 256, 65535, 65536} {
		ev := MessageEvent{Text: strings.Repeat("x", n), MediaURLs: make([]string, n)}
		in := &Interaction{AuthorizingIntegrationOwners: map[string]string{}}
		for i := range min(n, 300) {
			in.AuthorizingIntegrationOwners[fmt.Sprint(i)] = "o"
		}
		ev.Interaction = in
		checkAgrees(t, fmt.Sprintf("length %d", n), reflect.ValueOf(ev))
	}
}
