package descriptor_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/relaybus/relaybus/pkg/descriptor"
)

func ExampleDecode() {
	raw := []byte(`{
		"contract_version": 1,
		"platform": "telegram",
		"label": "Telegram",
		"max_message_length": 4096,
		"supports_draft_streaming": true,
		"supports_edit": true,
		"supports_threads": false,
		"markdown_dialect": "markdown_v2",
		"len_unit": "utf16",
		"supported_ops": ["send", " edit ", "send", 7, "get_chat_info"],
		"some_future_key": true
	}`)
	d, err := descriptor.Decode(raw)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.Platform, d.MaxLen(), d.LenUnit, d.Emoji)
	fmt.Println(d.Ops())
	fmt.Println(d.SupportsOp("get_chat_info"), d.SupportsOp("react"), d.SupportsCodeBlocks())
	fmt.Println(d.Len("ok 🎉"))

	_, err = descriptor.Decode([]byte(`{"contract_version": 1, "platform": "telegram"}`))
	fmt.Println(err, errors.Is(err, descriptor.ErrMissingKey))
	// Output:
	// telegram 4096 utf16 🔌
	// [send edit get_chat_info]
	// true false true
	// 5
	// descriptor: missing required key "label" true
}

func ExampleDescriptor_MarshalJSON() {
	b, _ := descriptor.Placeholder("discord").MarshalJSON()
	fmt.Println(string(b))
	// Output:
	// {"contract_version":1,"emoji":"🔌","label":"Relay","len_unit":"chars","markdown_dialect":"plain","max_message_length":4096,"pii_safe":false,"platform":"discord","platform_hint":"","supported_ops":[],"supports_block_formatting":false,"supports_context":false,"supports_draft_streaming":false,"supports_edit":true,"supports_threads":false}
}

func ExampleSplit() {
	reply := "Here is the fix.\n\n```go\nfunc add(a, b int) int {\n\treturn a + b\n}\n```\n\nRun the tests again."
	for i, chunk := range descriptor.Split(reply, 40, descriptor.UnitChars, true) {
		fmt.Printf("--- chunk %d (%d chars)\n%s\n", i, descriptor.Len(chunk, descriptor.UnitChars), chunk)
	}
	// Output:
	// --- chunk 0 (16 chars)
	// Here is the fix.
	// --- chunk 1 (34 chars)
	// ```go
	// func add(a, b int) int {
	// ```
	// --- chunk 2 (25 chars)
	// ```go
	// 	return a + b
	// }
	// ```
	// --- chunk 3 (20 chars)
	// Run the tests again.
}

func ExampleLen() {
	s := "👍 done"
	fmt.Println(descriptor.Len(s, descriptor.UnitChars), descriptor.Len(s, descriptor.UnitUTF16))
	// Output: 6 7
}

func ExampleDescriptor_Split() {
	d := descriptor.Descriptor{MaxMessageLength: 16, LenUnit: descriptor.UnitUTF16, MarkdownDialect: descriptor.DialectPlain}
	fmt.Printf("%q\n", d.Split(strings.Repeat("🎉", 10)))
	// Output: ["🎉🎉🎉🎉🎉🎉🎉🎉" "🎉🎉"]
}
