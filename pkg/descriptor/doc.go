// Package descriptor is the CapabilityDescriptor of the relay wire contract:
// the object the connector sends in a "descriptor" frame to say which
// platform it fronts and what that platform can do (message length limit and
// the unit it is counted in, draft streaming, edits, threads, markdown
// dialect, the outbound ops the connector accepts). The package also holds
// the two things every consumer of a descriptor needs: counting a text's
// length in the descriptor's unit ([Len]) and cutting a long reply into
// chunks that each fit the limit ([Split]).
//
// The specification is §3 of docs/relay-contract.md (shared with the
// connector team), which mirrors gateway/relay/descriptor.py of the reference
// Python gateway; the bus side (the relay_descriptor KV bucket holding one
// canonical descriptor JSON per platform) is in docs/architecture.md. Contract version 1 is
// additive-only: [Decode] ignores unknown keys and defaults absent optional
// ones, and [Descriptor.MarshalJSON] always writes every key of this version.
//
// Invariants:
//
//   - Decode never panics. Every error it returns wraps exactly one of
//     [ErrNotObject], [ErrMissingKey] or [ErrBadKey].
//   - A decoded descriptor is normalized: MaxMessageLength > 0 (anything
//     else, or a non-integer, becomes 4096) and SupportedOps holds trimmed,
//     non-empty, distinct op names in arrival order (nil when none), so
//     Decode → MarshalJSON → Decode yields the same value.
//   - Every chunk returned by Split is at most max units long (max raised to
//     [MinSplitMax]); joined, the chunks keep every non-whitespace character
//     of the input in order, apart from the fence lines Split adds to close a
//     code block at the end of one chunk and reopen it at the start of the
//     next. Split never cuts inside a UTF-8 sequence (so never inside a
//     UTF-16 surrogate pair) and never between a character and the combining
//     marks, ZWJ or variation selectors that follow it.
//
// The package does no I/O, never logs, and all its functions are safe for
// concurrent use.
package descriptor
