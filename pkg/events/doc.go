// Package events is relaybus's bus contract, the package agents import: the
// normalized MessageEvent and its SessionSource, the Interrupt, the outbound
// Action agents publish and the SendResult they get back, the chat Scope, the
// session keys, the MessagePack/JSON codecs, the stable rejection reasons,
// and the NATS subject, header, stream and bucket names that tie the stages
// together (docs/adr/0001-bus-contract.md).
//
// The connector's side — the frames that ride the /relay WebSocket, the
// HMAC upgrade token, the dial URL and the JSON scanners — is package
// github.com/relaybus/relaybus/pkg/wire, which builds on this one; an agent
// importing events compiles none of it. Keys are snake_case; events and
// actions travel on NATS as MessagePack maps with the same keys as their
// JSON form.
//
// The package does no I/O and never logs. Decoders never panic on any input
// and allocate in proportion to it (MessagePack length prefixes are checked
// against the payload before decoding); they return a *FrameError (or
// *ActionError) whose Reason is a stable string suitable for a metric label
// and a dead-letter header. The executable half of the spec lives in the
// tests: golden encodings in testdata (go test ./events -update rewrites
// them), fuzz targets for every decoder, and runnable examples.
package events
