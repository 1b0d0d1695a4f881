// Package wsedge is relaybus's ws-edge stage: the only process that talks to
// the connector. It dials the connector's /relay WebSocket (contract §1),
// says hello for every fronted identity, and keeps the socket as trustworthy
// as the bus behind it:
//
//   - every connector data frame (inbound, passthrough_forward,
//     interrupt_inbound, and types it does not know) is published, as the
//     exact bytes received, to relay.raw.<type> on the RELAY_RAW stream;
//   - a buffered frame (one with a bufferId) is acked with inbound_ack only
//     once JetStream acknowledged the publish and the id is stored in the
//     ack log (RELAY_ACKLOG); a replay is absorbed, within the stream's short
//     server window by Nats-Msg-Id = bufferId, and after any outage up to the
//     replay horizon by the ids loaded from the ack log at every connect
//     (acklog.go; docs/adr/0001-bus-contract.md §7.1): nothing is lost and
//     nothing is stored twice, in memory bounded by the ack horizon;
//   - nothing the connector sends can stop the read loop: bad frames are
//     counted, logged (rate-limited) and dead-lettered to relay.dlq.ws-edge;
//   - agents and egress reach the connector through request/reply endpoints
//     (relay.edge.outbound, relay.rpc.chat_info), answered with the
//     connector's result or the contract's synthesized ones.
//
// Publishes are pipelined (a bounded window of PublishMsgAsync futures, read
// in order by one completion goroutine that writes the acks); when the
// window is full the reader stops reading, so backpressure reaches the
// connector through TCP. One writer goroutine owns the socket and coalesces
// pending frames into one text message.
//
// The public surface is Config, DefaultConfig, ConfigFromEnv, Deps, New and
// (*Service).Run / Ready / Live; the spec is docs/relay-contract.md and
// the bus contract docs/adr/0001-bus-contract.md.
package wsedge
