// Package converter is the passthrough-converter stage: it consumes the raw
// connector frames ws-edge stored on RELAY_RAW and turns them into what
// agents act on.
//
//   - inbound frames become MessageEvents (contract §4 defaults applied);
//   - passthrough_forward frames from Discord (interactions) and Twilio (SMS
//     webhooks) are converted by the discord and twilio adapters; other
//     platforms are dead-lettered as unsupported, never dropped silently;
//     PING and autocomplete interactions produce no agent turn (counted);
//   - interrupt_inbound frames become Interrupts;
//   - frame types it does not know are acked and counted.
//
// Events go to relay.inbound.message.<platform>.<chat> (interrupts to
// relay.inbound.interrupt.<platform>.<chat>) as MessagePack, with a
// Nats-Msg-Id derived from the raw message so a redelivery cannot duplicate
// an event. Before an event is published, the chat's scope record (scope id,
// author, platform, chat type, profile) is written to KV relay_scope when it
// changed, so that egress can route the reply. The raw message is acked only
// after both are stored. A Discord interaction token never leaves the stage:
// not in an event, a log line or a dead letter.
package converter
