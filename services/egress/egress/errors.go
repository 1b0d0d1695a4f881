package egress

import "errors"

var (
	// ErrInvalidConfig classifies configuration errors; the message names
	// the environment variable to fix.
	ErrInvalidConfig = errors.New("egress: invalid config")

	// ErrNoConnection classifies New's error when Deps has no NATS
	// connection.
	ErrNoConnection = errors.New("egress: no nats connection")

	// ErrAlreadyRunning is returned by Run when the service runs already.
	ErrAlreadyRunning = errors.New("egress: already running")

	// ErrNotDelivered marks an action that did not reach the connector yet
	// (no ws-edge answered, or it answered "not connected"): the consume
	// loop retries it with a growing delay until its deadline.
	ErrNotDelivered = errors.New("egress: not delivered yet")

	// ErrNotReady is returned by Ready while a stage-specific condition is
	// not met (consumer not running, caches not synced).
	ErrNotReady = errors.New("egress: not ready")
)
