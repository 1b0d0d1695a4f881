package descriptor_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/relaybus/relaybus/pkg/descriptor"
	"github.com/relaybus/relaybus/pkg/events"
)

// baseKeys are the required keys of a Telegram-like descriptor, as raw JSON.
var baseKeys = [][2]string{
	{"contract_version", `1`},
	{"platform", `"telegram"`},
	{"label", `"Telegram"`},
	{"max_message_length", `4000`},
	{"supports_draft_streaming", `true`},
	{"supports_edit", `true`},
	{"supports_threads", `false`},
	{"markdown_dialect", `"markdown_v2"`},
	{"len_unit", `"utf16"`},
}

// obj returns the base descriptor JSON with overrides: kv holds key, raw
// value pairs; an empty raw value removes the key; keys not in the base are
// appended.
func obj(kv ...string) string {
	pairs := slices.Clone(baseKeys)
	for i := 0; i+1 < len(kv); i += 2 {
		k, v := kv[i], kv[i+1]
		j := slices.IndexFunc(pairs, func(p [2]string) bool { return p[0] == k })
		switch {
		case j >= 0 && v == "":
			pairs = slices.Delete(pairs, j, j+1)
		case j >= 0:
			pairs[j][1] = v
		case v != "":
			pairs = append(pairs, [2]string{k, v})
		}
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%s", p[0], p[1])
	}
	b.WriteByte('}')
	return b.String()
}

// base is what obj() decodes to.
var base = descriptor.Descriptor{
	ContractVersion:        1,
	Platform:               "telegram",
	Label:                  "Telegram",
	MaxMessageLength:       4000,
	SupportsDraftStreaming: true,
	SupportsEdit:           true,
	MarkdownDialect:        "markdown_v2",
	LenUnit:                "utf16",
	Emoji:                  "🔌",
}

// with returns base changed by f.
func with(f func(*descriptor.Descriptor)) descriptor.Descriptor {
	d := base
	f(&d)
	return d
}

func withMax(n int) descriptor.Descriptor {
	return with(func(d *descriptor.Descriptor) { d.MaxMessageLength = n })
}

func withOps(ops ...string) descriptor.Descriptor {
	return with(func(d *descriptor.Descriptor) { d.SupportedOps = ops })
}

type decodeTest struct {
	name    string
	in      string
	want    descriptor.Descriptor
	wantErr error
	errText string // when set, the exact error message
}

// decodeTests is the Decode table; FuzzDecode seeds from it and
// testdata/decode.golden.json records its outcomes.
var decodeTests = []decodeTest{
	{name: "OK/RequiredOnlyDefaultsOptional", in: obj(), want: base},
	{
		name: "OK/AllKeys",
		in: obj("emoji", `"✈️"`, "platform_hint", `"Telegram chat"`, "pii_safe", `true`,
			"supports_context", `true`, "supports_block_formatting", `true`,
			"supported_ops", `["send","edit","typing","follow_up","get_chat_info"]`),
		want: with(func(d *descriptor.Descriptor) {
			d.Emoji, d.PlatformHint = "✈️", "Telegram chat"
			d.PIISafe, d.SupportsContext, d.SupportsBlockFormatting = true, true, true
			d.SupportedOps = []string{"send", "edit", "typing", "follow_up", "get_chat_info"}
		}),
	},
	{
		name: "OK/UnknownKeysIgnored",
		in:   obj("supports_inchannel_continuable", `true`, "future", `{"x":[1,2]}`, "Label", `"other"`),
		want: base,
	},
	{
		name: "OK/OptionalNullDefaults",
		in: obj("emoji", `null`, "platform_hint", `null`, "pii_safe", `null`,
			"supports_context", `null`, "supports_block_formatting", `null`, "supported_ops", `null`),
		want: base,
	},
	{name: "OK/RepeatedKeyLastWins", in: `{"label":"first",` + obj()[1:len(obj())-1] + `,"label":"last"}`,
		want: with(func(d *descriptor.Descriptor) { d.Label = "last" })},
	{name: "OK/WhitespaceAround", in: " \n\t" + obj() + "\n", want: base},
	{name: "OK/EmptyStringsKept", in: obj("platform", `""`, "markdown_dialect", `""`, "len_unit", `""`, "emoji", `""`),
		want: with(func(d *descriptor.Descriptor) { d.Platform, d.MarkdownDialect, d.LenUnit, d.Emoji = "", "", "", "" })},
	{name: "OK/EscapedStrings", in: obj("label", `"Tele\u0067ram <b>"`), want: with(func(d *descriptor.Descriptor) { d.Label = "Telegram <b>" })},
	{name: "OK/ContractVersionIntegralFloat", in: obj("contract_version", `1.0`), want: base},
	{name: "OK/ContractVersionNewer", in: obj("contract_version", `2`), want: with(func(d *descriptor.Descriptor) { d.ContractVersion = 2 })},

	// max_message_length coercions.
	{name: "MaxLen/Positive", in: obj("max_message_length", `2000`), want: withMax(2000)},
	{name: "MaxLen/One", in: obj("max_message_length", `1`), want: withMax(1)},
	{name: "MaxLen/IntegralFloat", in: obj("max_message_length", `2000.0`), want: withMax(2000)},
	{name: "MaxLen/Exponent", in: obj("max_message_length", `2e3`), want: withMax(2000)},
	{name: "MaxLen/Zero", in: obj("max_message_length", `0`), want: withMax(4096)},
	{name: "MaxLen/Negative", in: obj("max_message_length", `-5`), want: withMax(4096)},
	{name: "MaxLen/String", in: obj("max_message_length", `"2000"`), want: withMax(4096)},
	{name: "MaxLen/Fraction", in: obj("max_message_length", `2000.5`), want: withMax(4096)},
	{name: "MaxLen/True", in: obj("max_message_length", `true`), want: withMax(4096)},
	{name: "MaxLen/Null", in: obj("max_message_length", `null`), want: withMax(4096)},
	{name: "MaxLen/Huge", in: obj("max_message_length", `1e30`), want: withMax(4096)},
	{name: "MaxLen/HugeInteger", in: obj("max_message_length", `99999999999999999999`), want: withMax(4096)},
	{name: "MaxLen/Array", in: obj("max_message_length", `[2000]`), want: withMax(4096)},
	{name: "MaxLen/Object", in: obj("max_message_length", `{}`), want: withMax(4096)},

	// supported_ops coercions.
	{name: "Ops/NotAList", in: obj("supported_ops", `"send"`), want: base},
	{name: "Ops/Object", in: obj("supported_ops", `{"send":true}`), want: base},
	{name: "Ops/Empty", in: obj("supported_ops", `[]`), want: base},
	{name: "Ops/Mixed", in: obj("supported_ops", `["send",1,null,"","  edit ","send",true,{"op":"x"},["react"],"edit","react"]`),
		want: withOps("send", "edit", "react")},
	{name: "Ops/OnlyBlank", in: obj("supported_ops", `[" ","\t"]`), want: base},
	{name: "Ops/NewOpOnly", in: obj("supported_ops", `["react"]`), want: withOps("react")},

	// Not an object.
	{name: "ErrNotObject/Empty", in: ``, wantErr: descriptor.ErrNotObject, errText: "descriptor: not a JSON object: invalid JSON"},
	{name: "ErrNotObject/Null", in: `null`, wantErr: descriptor.ErrNotObject, errText: "descriptor: not a JSON object: got null"},
	{name: "ErrNotObject/Array", in: `[` + obj() + `]`, wantErr: descriptor.ErrNotObject, errText: "descriptor: not a JSON object: got array"},
	{name: "ErrNotObject/String", in: `"descriptor"`, wantErr: descriptor.ErrNotObject},
	{name: "ErrNotObject/Number", in: `42`, wantErr: descriptor.ErrNotObject},
	{name: "ErrNotObject/Truncated", in: obj()[:20], wantErr: descriptor.ErrNotObject},
	{name: "ErrNotObject/TrailingGarbage", in: obj() + "x", wantErr: descriptor.ErrNotObject},
	{name: "ErrNotObject/Garbage", in: "\xff\xfe", wantErr: descriptor.ErrNotObject},

	// Missing keys (every required key: TestDecodeMissingEveryKey).
	{name: "ErrMissingKey/Label", in: obj("label", ""), wantErr: descriptor.ErrMissingKey, errText: `descriptor: missing required key "label"`},
	{name: "ErrMissingKey/EmptyObject", in: `{}`, wantErr: descriptor.ErrMissingKey, errText: `descriptor: missing required key "contract_version"`},
	{name: "ErrMissingKey/WrongCase", in: obj("label", "", "Label", `"Telegram"`), wantErr: descriptor.ErrMissingKey},
	{name: "ErrMissingKey/MaxLen", in: obj("max_message_length", ""), wantErr: descriptor.ErrMissingKey, errText: `descriptor: missing required key "max_message_length"`},

	// Wrong types.
	{name: "ErrBadKey/ContractVersionString", in: obj("contract_version", `"1"`), wantErr: descriptor.ErrBadKey,
		errText: `descriptor: bad value for key "contract_version": want integer, got string`},
	{name: "ErrBadKey/ContractVersionFraction", in: obj("contract_version", `1.5`), wantErr: descriptor.ErrBadKey,
		errText: `descriptor: bad value for key "contract_version": want integer, got 1.5`},
	{name: "ErrBadKey/ContractVersionNull", in: obj("contract_version", `null`), wantErr: descriptor.ErrBadKey},
	{name: "ErrBadKey/PlatformNumber", in: obj("platform", `5`), wantErr: descriptor.ErrBadKey,
		errText: `descriptor: bad value for key "platform": want string, got number`},
	{name: "ErrBadKey/LabelNull", in: obj("label", `null`), wantErr: descriptor.ErrBadKey,
		errText: `descriptor: bad value for key "label": want string, got null`},
	{name: "ErrBadKey/DialectBool", in: obj("markdown_dialect", `false`), wantErr: descriptor.ErrBadKey},
	{name: "ErrBadKey/LenUnitArray", in: obj("len_unit", `["utf16"]`), wantErr: descriptor.ErrBadKey},
	{name: "ErrBadKey/SupportsEditString", in: obj("supports_edit", `"true"`), wantErr: descriptor.ErrBadKey,
		errText: `descriptor: bad value for key "supports_edit": want bool, got string`},
	{name: "ErrBadKey/SupportsThreadsNumber", in: obj("supports_threads", `0`), wantErr: descriptor.ErrBadKey},
	{name: "ErrBadKey/DraftNull", in: obj("supports_draft_streaming", `null`), wantErr: descriptor.ErrBadKey},
	{name: "ErrBadKey/EmojiNumber", in: obj("emoji", `5`), wantErr: descriptor.ErrBadKey,
		errText: `descriptor: bad value for key "emoji": want string, got number`},
	{name: "ErrBadKey/PlatformHintObject", in: obj("platform_hint", `{}`), wantErr: descriptor.ErrBadKey},
	{name: "ErrBadKey/PIISafeString", in: obj("pii_safe", `"yes"`), wantErr: descriptor.ErrBadKey,
		errText: `descriptor: bad value for key "pii_safe": want bool, got string`},
	{name: "ErrBadKey/ContextNumber", in: obj("supports_context", `1`), wantErr: descriptor.ErrBadKey},
	{name: "ErrBadKey/BlockFormattingArray", in: obj("supports_block_formatting", `[]`), wantErr: descriptor.ErrBadKey},
}

func TestDecode(t *testing.T) {
	for _, tt := range decodeTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := descriptor.Decode([]byte(tt.in))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Decode(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			}
			if tt.errText != "" && err.Error() != tt.errText {
				t.Errorf("Decode(%q) error = %q, want %q", tt.in, err, tt.errText)
			}
			if err != nil {
				if diff := cmp.Diff(descriptor.Descriptor{}, got); diff != "" {
					t.Errorf("Decode(%q) returned a value with its error (-want +got):\n%s", tt.in, diff)
				}
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Decode(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestDecodeMissingEveryKey(t *testing.T) {
	for _, p := range baseKeys {
		key := p[0]
		t.Run(key, func(t *testing.T) {
			in := obj(key, "")
			_, err := descriptor.Decode([]byte(in))
			if !errors.Is(err, descriptor.ErrMissingKey) {
				t.Fatalf("Decode(%q) error = %v, want %v", in, err, descriptor.ErrMissingKey)
			}
			if want := fmt.Sprintf("descriptor: missing required key %q", key); err.Error() != want {
				t.Errorf("Decode(%q) error = %q, want %q", in, err, want)
			}
		})
	}
}

// TestDecodeGolden records every table outcome (canonical JSON or error
// text) in testdata/decode.golden.json.
func TestDecodeGolden(t *testing.T) {
	type outcome struct {
		Name       string          `json:"name"`
		Input      string          `json:"input"`
		Descriptor json.RawMessage `json:"descriptor,omitempty"`
		Error      string          `json:"error,omitempty"`
	}
	var all []outcome
	for _, tt := range decodeTests {
		o := outcome{Name: tt.name, Input: tt.in}
		if d, err := descriptor.Decode([]byte(tt.in)); err != nil {
			o.Error = err.Error()
		} else {
			o.Descriptor, _ = d.MarshalJSON()
		}
		all = append(all, o)
	}
	got, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "decode.golden.json", append(got, '\n'))
}

// canonical is a descriptor with every key set and strings that need
// escaping.
var canonical = descriptor.Descriptor{
	ContractVersion:         1,
	Platform:                "discord",
	Label:                   `Discord <"main"> & co`,
	MaxMessageLength:        2000,
	SupportsDraftStreaming:  false,
	SupportsEdit:            true,
	SupportsThreads:         true,
	MarkdownDialect:         "discord",
	LenUnit:                 "chars",
	Emoji:                   "🎮",
	PlatformHint:            "line one\nline two\u2028",
	PIISafe:                 true,
	SupportsContext:         true,
	SupportsBlockFormatting: false,
	SupportedOps:            []string{"send", "edit", "typing", "follow_up", "get_chat_info", "delete", "react"},
}

func TestMarshalJSONGolden(t *testing.T) {
	tests := []struct {
		name string
		d    descriptor.Descriptor
	}{
		{"canonical.golden.json", canonical},
		{"placeholder.golden.json", descriptor.Placeholder("")},
		{"zero.golden.json", descriptor.Descriptor{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.d.MarshalJSON()
			if err != nil {
				t.Fatalf("MarshalJSON() error = %v", err)
			}
			if !json.Valid(got) {
				t.Fatalf("MarshalJSON() = %s, not valid JSON", got)
			}
			golden.Check(t, tt.name, append(got, '\n'))
			viaJSON, err := json.Marshal(tt.d)
			if err != nil || string(viaJSON) != string(got) {
				t.Errorf("json.Marshal = %s, %v; want MarshalJSON's %s", viaJSON, err, got)
			}
		})
	}
}

func TestMarshalJSONAllKeysSorted(t *testing.T) {
	b, _ := descriptor.Descriptor{}.MarshalJSON()
	dec := json.NewDecoder(strings.NewReader(string(b)))
	var keys []string
	dec.Token() // {
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"contract_version", "emoji", "label", "len_unit", "markdown_dialect",
		"max_message_length", "pii_safe", "platform", "platform_hint", "supported_ops",
		"supports_block_formatting", "supports_context", "supports_draft_streaming",
		"supports_edit", "supports_threads",
	}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("MarshalJSON keys mismatch (-want +got):\n%s", diff)
	}
	if !slices.IsSorted(keys) {
		t.Errorf("MarshalJSON keys %q are not sorted", keys)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tt := range decodeTests {
		if tt.wantErr != nil {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			d, err := descriptor.Decode([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := d.MarshalJSON()
			again, err := descriptor.Decode(b)
			if err != nil {
				t.Fatalf("Decode(%s) error = %v", b, err)
			}
			if diff := cmp.Diff(d, again); diff != "" {
				t.Errorf("JSON round trip mismatch (-want +got):\n%s", diff)
			}

			// Embedded in a larger document, through UnmarshalJSON.
			var doc struct {
				D descriptor.Descriptor `json:"descriptor"`
			}
			if err := json.Unmarshal([]byte(`{"descriptor":`+tt.in+`}`), &doc); err != nil {
				t.Fatalf("json.Unmarshal error = %v", err)
			}
			if diff := cmp.Diff(d, doc.D); diff != "" {
				t.Errorf("UnmarshalJSON mismatch (-want +got):\n%s", diff)
			}

			mp, err := msgpack.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			var viaMsgpack descriptor.Descriptor
			if err := msgpack.Unmarshal(mp, &viaMsgpack); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(d, viaMsgpack); diff != "" {
				t.Errorf("msgpack round trip mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnmarshalJSONError(t *testing.T) {
	var doc struct {
		D descriptor.Descriptor `json:"descriptor"`
	}
	err := json.Unmarshal([]byte(`{"descriptor":`+obj("label", "")+`}`), &doc)
	if !errors.Is(err, descriptor.ErrMissingKey) {
		t.Errorf("json.Unmarshal error = %v, want %v", err, descriptor.ErrMissingKey)
	}
	doc.D = base
	if err := json.Unmarshal([]byte(`{"descriptor":null}`), &doc); err != nil || doc.D.Label != base.Label {
		t.Errorf("json.Unmarshal(null) = %v, %+v; want no error, value unchanged", err, doc.D)
	}
}

// TestMsgpackKeys checks that the MessagePack map keys are the JSON keys.
func TestMsgpackKeys(t *testing.T) {
	mp, err := msgpack.Marshal(canonical)
	if err != nil {
		t.Fatal(err)
	}
	var fromMsgpack map[string]any
	if err := msgpack.Unmarshal(mp, &fromMsgpack); err != nil {
		t.Fatal(err)
	}
	js, _ := canonical.MarshalJSON()
	var fromJSON map[string]any
	if err := json.Unmarshal(js, &fromJSON); err != nil {
		t.Fatal(err)
	}
	mk, jk := keysOf(fromMsgpack), keysOf(fromJSON)
	if diff := cmp.Diff(jk, mk); diff != "" {
		t.Errorf("msgpack keys differ from JSON keys (-json +msgpack):\n%s", diff)
	}
}

func keysOf(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestPlaceholder(t *testing.T) {
	tests := []struct {
		name    string
		primary string
		want    descriptor.Descriptor
	}{
		{"NoIdentity", "", descriptor.Descriptor{
			ContractVersion: 1, Platform: "relay", Label: "Relay", MaxMessageLength: 4096,
			SupportsEdit: true, MarkdownDialect: "plain", LenUnit: "chars", Emoji: "🔌",
		}},
		{"PrimaryIdentity", "discord", descriptor.Descriptor{
			ContractVersion: 1, Platform: "discord", Label: "Relay", MaxMessageLength: 4096,
			SupportsEdit: true, MarkdownDialect: "plain", LenUnit: "chars", Emoji: "🔌",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, descriptor.Placeholder(tt.primary)); diff != "" {
				t.Errorf("Placeholder(%q) mismatch (-want +got):\n%s", tt.primary, diff)
			}
		})
	}
}

func TestOps(t *testing.T) {
	legacy := []string{"send", "edit", "typing", "follow_up"}
	if diff := cmp.Diff(events.LegacyOps, legacy); diff != "" {
		t.Fatalf("events.LegacyOps differs from the contract's legacy set (-events +contract):\n%s", diff)
	}
	tests := []struct {
		name string
		ops  []string
		want []string
	}{
		{"NilIsLegacy", nil, legacy},
		{"EmptyIsLegacy", []string{}, legacy},
		{"Advertised", []string{"send", "react"}, []string{"send", "react"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := descriptor.Descriptor{SupportedOps: tt.ops}
			got := d.Ops()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Ops() mismatch (-want +got):\n%s", diff)
			}
			got[0] = "mutated"
			if d.Ops()[0] == "mutated" || (len(tt.ops) > 0 && tt.ops[0] == "mutated") {
				t.Errorf("Ops() returned a slice shared with the descriptor")
			}
		})
	}
}

func TestSupportsOp(t *testing.T) {
	legacy := descriptor.Descriptor{}
	advertised := descriptor.Descriptor{SupportedOps: []string{"send", "get_chat_info", "react"}}
	tests := []struct {
		name string
		d    descriptor.Descriptor
		op   string
		want bool
	}{
		{"Legacy/Send", legacy, "send", true},
		{"Legacy/Edit", legacy, "edit", true},
		{"Legacy/Typing", legacy, "typing", true},
		{"Legacy/FollowUp", legacy, "follow_up", true},
		{"Legacy/GetChatInfo", legacy, "get_chat_info", false},
		{"Legacy/React", legacy, "react", false},
		{"Legacy/Delete", legacy, "delete", false},
		{"Legacy/Empty", legacy, "", false},
		{"Advertised/Send", advertised, "send", true},
		{"Advertised/GetChatInfo", advertised, "get_chat_info", true},
		{"Advertised/React", advertised, "react", true},
		{"Advertised/EditNotListed", advertised, "edit", false},
		{"Advertised/CaseSensitive", advertised, "Send", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.d.SupportsOp(tt.op); got != tt.want {
				t.Errorf("SupportsOp(%q) with ops %q = %v, want %v", tt.op, tt.d.SupportedOps, got, tt.want)
			}
		})
	}
}

func TestSupportsCodeBlocks(t *testing.T) {
	tests := []struct {
		dialect string
		want    bool
	}{
		{"", false},
		{"plain", false},
		{"discord", true},
		{"slack", true},
		{"markdown_v2", true},
		{"some_future_dialect", true},
		{"Plain", true}, // dialects are exact strings
	}
	for _, tt := range tests {
		t.Run(tt.dialect, func(t *testing.T) {
			d := descriptor.Descriptor{MarkdownDialect: tt.dialect}
			if got := d.SupportsCodeBlocks(); got != tt.want {
				t.Errorf("SupportsCodeBlocks() with dialect %q = %v, want %v", tt.dialect, got, tt.want)
			}
		})
	}
}

func TestMaxLen(t *testing.T) {
	tests := []struct {
		max, want int
	}{
		{2000, 2000},
		{1, 1},
		{0, 4096},
		{-3, 4096},
	}
	for _, tt := range tests {
		d := descriptor.Descriptor{MaxMessageLength: tt.max}
		if got := d.MaxLen(); got != tt.want {
			t.Errorf("MaxLen() with max_message_length %d = %d, want %d", tt.max, got, tt.want)
		}
	}
}

func TestLen(t *testing.T) {
	tests := []struct {
		name  string
		s     string
		chars int
		utf16 int
	}{
		{"Empty", "", 0, 0},
		{"ASCII", "hello", 5, 5},
		{"Latin", "héllo", 5, 5},
		{"CJK", "漢字", 2, 2},
		{"Emoji", "🎉", 1, 2},
		{"EmojiInText", "ok 🎉!", 5, 6},
		{"Combining", "e\u0301", 2, 2},
		{"ZWJFamily", "👨‍👩‍👧", 5, 8},
		{"Flag", "🇫🇷", 2, 4},
		{"BMPEmojiWithSelector", "✈️", 2, 2},
		{"InvalidUTF8", "a\xffb", 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := descriptor.Len(tt.s, descriptor.UnitChars); got != tt.chars {
				t.Errorf("Len(%q, chars) = %d, want %d", tt.s, got, tt.chars)
			}
			if got := descriptor.Len(tt.s, descriptor.UnitUTF16); got != tt.utf16 {
				t.Errorf("Len(%q, utf16) = %d, want %d", tt.s, got, tt.utf16)
			}
			for _, unit := range []string{"", "bytes", "UTF16"} {
				if got := descriptor.Len(tt.s, unit); got != tt.chars {
					t.Errorf("Len(%q, %q) = %d, want code points %d", tt.s, unit, got, tt.chars)
				}
			}
			d := descriptor.Descriptor{LenUnit: "utf16"}
			if got := d.Len(tt.s); got != tt.utf16 {
				t.Errorf("Descriptor{LenUnit: utf16}.Len(%q) = %d, want %d", tt.s, got, tt.utf16)
			}
		})
	}
}
