package agent

import "errors"

var (
	// ErrInvalidOptions is returned by New for unusable options.
	ErrInvalidOptions = errors.New("agent: invalid options")

	// ErrNoResult is returned by Send when the wait for the action's result
	// ended (context done) before a result arrived; the action may still
	// be delivered later.
	ErrNoResult = errors.New("agent: no result")

	// ErrBadEvent is passed to ErrorHandler for an event that cannot be
	// decoded; the event is terminated (never redelivered).
	ErrBadEvent = errors.New("agent: undecodable event")

	// ErrGaveUp is passed to ErrorHandler when an event's handler failed on
	// its last allowed delivery; the event is terminated.
	ErrGaveUp = errors.New("agent: handler failed on the last delivery")
)
