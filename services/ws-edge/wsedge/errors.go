package wsedge

import "errors"

var (
	// ErrInvalidConfig classifies every configuration error; the message
	// names the environment variable at fault.
	ErrInvalidConfig = errors.New("wsedge: invalid config")

	// ErrRevoked is returned by Run, Live and Ready once the connector has
	// refused the relay credential twice in a row after a successful
	// handshake (close code 4401 on the fresh-token redial): ws-edge stops
	// dialing and the process should exit non-zero until an operator fixes
	// GATEWAY_RELAY_ID / GATEWAY_RELAY_SECRET.
	ErrRevoked = errors.New("wsedge: relay credential revoked")

	// ErrNotHandshaken is Ready's answer while the connector socket is not
	// up and handshaken.
	ErrNotHandshaken = errors.New("wsedge: relay socket not up and handshaken")

	// ErrNATSDisconnected is Ready's answer while the NATS connection is
	// down.
	ErrNATSDisconnected = errors.New("wsedge: nats not connected")

	// errConnLost marks a frame the writer never got to write.
	errConnLost = errors.New("wsedge: socket lost before the frame was written")

	// ErrAlreadyRunning is returned by a second call of Run.
	ErrAlreadyRunning = errors.New("wsedge: service already running")
)
