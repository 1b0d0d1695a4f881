package devconnector

import "errors"

var (
	// ErrBadConfig is returned by New for an unusable Config.
	ErrBadConfig = errors.New("devconnector: bad config")

	// ErrNotConnected is returned when a frame must go to the gateway but no
	// gateway socket is active.
	ErrNotConnected = errors.New("devconnector: no gateway connected")

	// ErrClosed is returned by methods called after Close, and by waiters
	// that were waiting when Close was called.
	ErrClosed = errors.New("devconnector: server closed")

	// ErrStarted is returned by Start when the server was already started.
	ErrStarted = errors.New("devconnector: already started")

	// ErrBadBody is returned by ForwardInteraction for a body that is not a
	// JSON object.
	ErrBadBody = errors.New("devconnector: body is not a JSON object")

	// ErrBadFields is returned when frame fields cannot be encoded as JSON.
	ErrBadFields = errors.New("devconnector: fields not encodable as JSON")
)
