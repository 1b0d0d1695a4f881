package descriptor

import "slices"

// ContractVersion is the descriptor contract version this package implements.
// Version 1 evolves additively only: new optional keys, never a changed
// meaning for an existing one.
const ContractVersion = 1

// DefaultMaxMessageLength replaces a max_message_length that is not a
// positive integer, as the reference gateway does, so that a reply can always
// be chunked.
const DefaultMaxMessageLength = 4096

// DefaultEmoji is the emoji of a descriptor that does not send one.
const DefaultEmoji = "🔌"

// Length units (len_unit). Wire enum: strings, append only.
const (
	// UnitChars counts Unicode code points. Any unit other than UnitUTF16
	// counts this way.
	UnitChars = "chars"
	// UnitUTF16 counts UTF-16 code units: a code point outside the Basic
	// Multilingual Plane (most emoji) counts 2. Telegram counts this way.
	UnitUTF16 = "utf16"
)

// Markdown dialects (markdown_dialect). Wire enum: strings, append only.
const (
	DialectPlain      = "plain"
	DialectDiscord    = "discord"
	DialectSlack      = "slack"
	DialectMarkdownV2 = "markdown_v2"
)

// legacyOps is what a connector that sends no supported_ops accepts (it
// predates the key). It equals events.LegacyOps; the test checks that.
var legacyOps = []string{"send", "edit", "typing", "follow_up"}

// Descriptor is the CapabilityDescriptor of contract §3 (version 1). The
// JSON and MessagePack keys are the contract's snake_case keys.
//
// Build one with [Decode] (from the wire) or [Placeholder] (before the first
// handshake). [Descriptor.MarshalJSON] writes the canonical JSON, and
// [Descriptor.UnmarshalJSON] applies Decode's rules. MessagePack
// (un)marshaling uses the struct tags as they are, without Decode's
// coercions: use it only between stages, for values that came from Decode.
// A Descriptor is a plain value: copy it freely; its methods only read it
// and are safe for concurrent use.
type Descriptor struct {
	// ContractVersion is the contract version the connector speaks (1).
	ContractVersion int `json:"contract_version" msgpack:"contract_version"`
	// Platform is the fronted platform: "discord", "telegram", "slack" ...
	Platform string `json:"platform" msgpack:"platform"`
	// Label is the platform's human-readable name.
	Label string `json:"label" msgpack:"label"`
	// MaxMessageLength is the longest message the platform accepts, in
	// LenUnit units. Decode guarantees it is positive.
	MaxMessageLength int `json:"max_message_length" msgpack:"max_message_length"`
	// SupportsDraftStreaming says whether a reply may be streamed as a
	// draft that is edited as tokens arrive.
	SupportsDraftStreaming bool `json:"supports_draft_streaming" msgpack:"supports_draft_streaming"`
	// SupportsEdit says whether sent messages can be edited.
	SupportsEdit bool `json:"supports_edit" msgpack:"supports_edit"`
	// SupportsThreads says whether the platform has threads.
	SupportsThreads bool `json:"supports_threads" msgpack:"supports_threads"`
	// MarkdownDialect is one of the Dialect constants (or a newer one).
	MarkdownDialect string `json:"markdown_dialect" msgpack:"markdown_dialect"`
	// LenUnit is the unit of MaxMessageLength: [UnitChars] or [UnitUTF16];
	// anything else counts as UnitChars.
	LenUnit string `json:"len_unit" msgpack:"len_unit"`
	// Emoji decorates the platform in listings (default [DefaultEmoji]).
	Emoji string `json:"emoji" msgpack:"emoji"`
	// PlatformHint is extra prompt text about the platform (default "").
	PlatformHint string `json:"platform_hint" msgpack:"platform_hint"`
	// PIISafe says whether the platform may see personal data (default
	// false).
	PIISafe bool `json:"pii_safe" msgpack:"pii_safe"`
	// SupportsContext says whether the connector can supply the
	// surrounding channel context of an addressed turn (default false).
	SupportsContext bool `json:"supports_context" msgpack:"supports_context"`
	// SupportsBlockFormatting says whether the platform's sender renders
	// block-level formatting from markdown (default false).
	SupportsBlockFormatting bool `json:"supports_block_formatting" msgpack:"supports_block_formatting"`
	// SupportedOps lists the outbound ops the connector accepts for this
	// platform. Empty (nil after Decode) means the legacy set; use
	// [Descriptor.Ops] and [Descriptor.SupportsOp] rather than reading it.
	SupportedOps []string `json:"supported_ops" msgpack:"supported_ops"`
}

// Placeholder returns the descriptor assumed before the first handshake
// completes: platform primaryPlatform (the first configured identity, or
// "relay" when empty), label "Relay", 4096 code points, no draft streaming,
// edits on, no threads, plain markdown.
func Placeholder(primaryPlatform string) Descriptor {
	if primaryPlatform == "" {
		primaryPlatform = "relay"
	}
	return Descriptor{
		ContractVersion:  ContractVersion,
		Platform:         primaryPlatform,
		Label:            "Relay",
		MaxMessageLength: DefaultMaxMessageLength,
		SupportsEdit:     true,
		MarkdownDialect:  DialectPlain,
		LenUnit:          UnitChars,
		Emoji:            DefaultEmoji,
	}
}

// Ops returns the ops the connector accepts: SupportedOps, or the legacy set
// send, edit, typing, follow_up when it is empty. The result is a fresh slice
// the caller may modify.
func (d Descriptor) Ops() []string {
	if len(d.SupportedOps) == 0 {
		return slices.Clone(legacyOps)
	}
	return slices.Clone(d.SupportedOps)
}

// SupportsOp reports whether the connector accepts op. With no advertised
// ops only the legacy set is accepted, so an op newer than the key is
// supported only when it is listed explicitly.
func (d Descriptor) SupportsOp(op string) bool {
	if len(d.SupportedOps) == 0 {
		return slices.Contains(legacyOps, op)
	}
	return slices.Contains(d.SupportedOps, op)
}

// SupportsCodeBlocks reports whether the markdown dialect renders ```
// fenced code blocks: every dialect except "" and [DialectPlain].
func (d Descriptor) SupportsCodeBlocks() bool {
	return d.MarkdownDialect != "" && d.MarkdownDialect != DialectPlain
}

// MaxLen returns MaxMessageLength, or [DefaultMaxMessageLength] when it is
// not positive (a zero Descriptor).
func (d Descriptor) MaxLen() int {
	if d.MaxMessageLength <= 0 {
		return DefaultMaxMessageLength
	}
	return d.MaxMessageLength
}

// Len returns the length of s in the descriptor's unit; see [Len].
func (d Descriptor) Len(s string) int { return Len(s, d.LenUnit) }

// Split cuts text into chunks that each fit the descriptor's limit in its
// unit, closing and reopening code fences when the dialect renders them; see
// [Split].
func (d Descriptor) Split(text string) []string {
	return Split(text, d.MaxLen(), d.LenUnit, d.SupportsCodeBlocks())
}
