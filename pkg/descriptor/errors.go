package descriptor

import "errors"

var (
	// ErrNotObject is returned by [Decode] when its input is not a JSON
	// object: invalid JSON, or valid JSON of another kind (array, string,
	// number, bool, null).
	ErrNotObject = errors.New("descriptor: not a JSON object")

	// ErrMissingKey is returned by [Decode] when a required key of the
	// descriptor is absent. The error names the key, for example
	// `descriptor: missing required key "label"`.
	ErrMissingKey = errors.New("descriptor: missing required key")

	// ErrBadKey is returned by [Decode] when a key holds a value of the wrong
	// JSON type (a string where a bool is required, a null for a required
	// string, a fractional contract_version ...). The error names the key and
	// the expected and actual types. max_message_length and supported_ops
	// never produce it: they are coerced as the contract says.
	ErrBadKey = errors.New("descriptor: bad value for key")
)
