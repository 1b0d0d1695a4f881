// Package wire is relaybus's connector contract (docs/relay-contract.md):
// what ws-edge, the converter and the dev connector need to speak the /relay
// WebSocket, and nothing an agent needs.
//
//   - Frames: DecodeFrame and the Frame envelope, the passthrough_forward
//     payload (DecodeForward, DecodeForwardFrame with its one-pass fast path),
//     the inbound event (DecodeInboundEvent), and the gateway → connector
//     frame writers (AppendHello, AppendOutbound, AppendInterrupt,
//     AppendGoingIdle, AppendInboundAck).
//   - UnmarshalObject: the relay's one translation of encoding/json errors
//     into an *events.FrameError.
//   - StripInternalMetadata: ws-edge removes the bus-only "_" metadata keys
//     before an outbound frame is written.
//   - The upgrade credential: MintToken, VerifyToken (HMAC-SHA256),
//     BearerHeader, and DialURL. "Token" in this package is always this
//     credential; the subject-safe encoding of ids is events.SubjectToken.
//   - Package jsonscan: the JSON scanning primitives shared by the fast
//     paths, whose contract is "agrees with DecodeFrame and encoding/json".
//
// Keys on the wire are exactly the contract's: camelCase in the frame
// envelope (requestId, bufferId, botId, bodyB64), snake_case inside events
// and actions. The payload types (events.MessageEvent, events.Action,
// events.SendResult) and the rejection reasons and *events.FrameError live
// in package events, which this package builds on; never the reverse.
//
// Like events, the package does no I/O and never logs, and its decoders
// never panic; errors are *events.FrameError with a stable Reason.
package wire
