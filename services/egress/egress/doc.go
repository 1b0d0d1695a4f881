// Package egress is the relaybus stage that turns agents' reply actions
// into outbound frames on the connector socket.
//
// It consumes relay.outbound.<op> (stream RELAY_OUTBOUND) with a durable
// pull consumer ("egress") shared by all replicas, and for each action:
//
//   - decodes it (MessagePack, or JSON by Content-Type) and validates it; a
//     bad action gets a failed result naming the field and is dead-lettered;
//   - re-attaches the chat's routing scope (scope_id, guild_id, user_id,
//     profile from the relay_scope bucket, served from a watched local
//     cache) to chat-addressed actions that do not carry it (contract §6);
//   - gates the op on the connector's descriptor (relay_descriptor bucket,
//     also cached) and splits a long send to the platform's limit;
//   - requests relay.edge.outbound (any live ws-edge) once per part and
//     publishes the SendResult on relay.results.<action id> (captured by
//     the RELAY_RESULTS stream for the duplicate window);
//   - acks only a definitive result: "not connected" and "no ws-edge" are
//     retried with a growing delay until the action's deadline; ambiguous
//     results are reported, never retried; declines are final and
//     dead-lettered; a redelivered action whose result is already stored
//     is answered from the store, never sent twice.
//
// The wire contract is docs/relay-contract.md §2, §3 and §6; the bus
// contract is docs/adr/0001-bus-contract.md (and docs/architecture.md). [Service] is what both the egress binary and
// the all-in-one relay binary run.
package egress
