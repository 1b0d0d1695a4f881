// Package devconnector is a local, faithful implementation of the
// connector's side of the relay contract (docs/relay-contract.md,
// docs/adr): the WebSocket server a gateway dials, plus the provider-facing
// HTTP endpoints that feed it.
//
// It serves three audiences: newcomers (`relay --dev`, `relay devconnector`)
// who want to see the whole loop without the hosted connector, end-to-end
// tests of ws-edge, egress and the all-in-one binary, which use it as the
// peer, and `relay bench`, which drives it at tens of thousands of frames per
// second.
//
// # The gateway socket
//
// GET /relay upgrades to a WebSocket. When [Config.Gateways] is not empty the
// upgrade must carry `Authorization: Bearer <token>` (wire.MintToken); a
// missing, malformed or wrongly signed token is accepted at the HTTP level
// and then closed with close code 4401 and reason "unauthorized" ("expired"
// when the token merely aged out), exactly as the hosted connector does. With
// no gateways configured any dial is accepted (development).
//
// The dev connector fronts a single tenant: there is at most one active
// gateway socket. A newer authenticated socket replaces the active one, which
// is closed with [CloseReplaced] ("replaced").
//
// Frames are NDJSON in text messages both ways. The reader splits on "\n"
// across messages; binary messages are read as text; malformed frames are
// counted and logged, never fatal. The writer is the only goroutine that
// writes data messages on a socket; it coalesces several pending frames into
// one text message, which is what makes benchmarks fast and exercises the
// gateway's multi-frame parsing.
//
// # Buffered delivery
//
// Every inbound, passthrough_forward and interrupt_inbound frame gets a
// bufferId ("b-<seq>") and stays in the replay buffer until the gateway acks
// it with inbound_ack. The buffer is pulled by the socket's writer in bufferId
// order: after the first hello of every connection the writer (re)sends every
// un-acked frame, then follows new ones as they are emitted. Nothing is pushed
// before the first hello or after going_idle (buffered-only delivery); those
// frames wait for the next connection. The buffer holds at most
// [Config.ReplayLimit] un-acked frames; when full the oldest is dropped and
// counted.
//
// # Outbound actions
//
// Every outbound frame is recorded and answered with outbound_result. The
// default answers imitate the hosted connector, including the Discord
// interaction-token vault behind follow_up and the egress guard that declines
// chat-addressed Discord actions for guild chats when the action carries
// neither a scope (metadata.scope_id / metadata.guild_id) nor an author
// (metadata.user_id). A chat is a guild chat once a forwarded interaction
// with a guild_id, or a posted Discord MessageEvent with a scope_id, named
// it. The vault keeps each interaction's token under its interaction id and
// under the session key the gateway computes for it (contract §5, newest
// interaction per key wins); follow_up finds it by metadata.interaction_id
// or session_key. [Config.Answer] overrides the default answers.
//
// # HTTP endpoints
//
//	GET  /relay          the gateway WebSocket
//	POST /interactions   a raw Discord interaction -> passthrough_forward (PING answered inline)
//	POST /inbound        a MessageEvent JSON       -> inbound
//	POST /interrupt      {session_key, chat_id}    -> interrupt_inbound
//	POST /twilio         a form body               -> passthrough_forward (platform twilio)
//	POST /raw            any bytes                 -> one text message, verbatim
//	GET  /outbound       the recorded outbound frames (JSON array)
//	GET  /state          counters and connection state (JSON object)
//
// A [Server] is safe for concurrent use. [Server.Close] closes the listener
// and every socket and waits for every goroutine the server started. Interaction
// tokens are never logged.
package devconnector
