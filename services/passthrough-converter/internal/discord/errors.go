package discord

import "errors"

var (
	// ErrPing is returned by Convert for a PING (type 1). The connector answers
	// PINGs itself; one that is forwarded anyway yields no agent turn.
	ErrPing = errors.New("discord: ping interaction")

	// ErrAutocomplete is returned by Convert for an
	// APPLICATION_COMMAND_AUTOCOMPLETE (type 4). It must be answered with
	// choices within 3 s, which only the connector can do, so it yields no
	// agent turn.
	ErrAutocomplete = errors.New("discord: autocomplete interaction")
)
