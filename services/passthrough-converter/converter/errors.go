package converter

import "errors"

var (
	// ErrInvalidConfig classifies configuration errors.
	ErrInvalidConfig = errors.New("converter: invalid config")
)
