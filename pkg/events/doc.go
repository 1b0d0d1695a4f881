// Package events is relaybus's wire contract: the connector frames that ride the
// /relay WebSocket (both directions), the normalized MessageEvent and its
// SessionSource, the outbound actions agents publish, the SendResult they get
// back, and the NATS subject, header, stream and bucket names that tie the
// stages together.
//
// The connector side of the contract is specified in docs/relay-contract.md
// (shared with the connector team); the bus side in
// docs/adr/0001-bus-contract.md. Keys on the wire are exactly the contract's: camelCase in
// the frame envelope (requestId, bufferId, botId, bodyB64), snake_case inside
// events and actions. Events and actions travel on NATS as MessagePack maps
// with the same keys as their JSON form.
//
// The package does no I/O and never logs. Decoders never panic on any input
// and allocate in proportion to it (MessagePack length prefixes are checked
// against the payload before decoding); they return a *FrameError (or
// *ActionError) whose Reason is a stable string suitable for a metric label
// and a dead-letter header. The executable half of the spec lives in the
// tests: golden encodings in testdata (go test ./events -update rewrites
// them), fuzz targets for every decoder, and runnable examples.
package events
