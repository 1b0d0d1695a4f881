// Package discord converts a forwarded Discord interaction body into a
// normalized [events.MessageEvent], as relay contract §5 specifies.
//
// The conversion is a pure function of the body bytes and the forward's
// metadata: no I/O, no clock, no logging. It parses leniently (Discord adds
// fields and component types over time): unknown keys are ignored, every
// field except "id" and "type" is optional, and components are walked
// generically so that an unknown component type never rejects an
// interaction. A key the converter reads that holds the wrong JSON type is a
// bad body, reported as an [*events.FrameError]; nothing a body contains makes
// [Convert] panic.
//
// Outcomes of [Convert]:
//
//   - an event, for APPLICATION_COMMAND (2), MESSAGE_COMPONENT (3) and
//     MODAL_SUBMIT (5);
//   - [ErrPing] for PING (1) and [ErrAutocomplete] for
//     APPLICATION_COMMAND_AUTOCOMPLETE (4): well-formed, but never an agent turn;
//   - an [*events.FrameError] (errors.Is [events.ErrBadFrame]) for a body that
//     cannot be converted: reason bad_body (not JSON, not an object),
//     wrong_type (a key of the wrong JSON type; Field names it), missing_field
//     ("id", or the channel: neither "channel_id" nor "channel.id"), or
//     unsupported (an unknown interaction type).
//
// The interaction token is a credential. The connector moves it into its vault
// before forwarding, but if a body still carries one, it is never decoded,
// copied into an event or quoted in an error; [StripToken] removes it from a
// body that must be kept (for example dead-lettered).
//
// References: docs/relay-contract.md §4–5 (normative) and
// docs/discord-interactions.md (payload shapes); the fixtures are in
// internal/fixtures/discord.
package discord
