package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Streams, buckets and subjects of the bus contract (docs/adr/0001-bus-contract.md).
const (
	// RawStream holds every connector data frame exactly as received.
	RawStream = "RELAY_RAW"
	// InboundStream holds normalized events for agents.
	InboundStream = "RELAY_INBOUND"
	// OutboundStream holds agents' reply actions for egress.
	OutboundStream = "RELAY_OUTBOUND"
	// DLQStream holds dead letters from every stage.
	DLQStream = "RELAY_DLQ"
	// ResultsStream keeps each action's definitive result (relay.results.>)
	// for the duplicate window, so a redelivered or re-published action is
	// answered from it instead of being sent twice.
	ResultsStream = "RELAY_RESULTS"

	// ScopeBucket maps "<platform>.<chat key>" to a Scope record.
	ScopeBucket = "relay_scope"
	// DescriptorBucket maps a platform (DescriptorKey) to its negotiated
	// descriptor JSON.
	DescriptorBucket = "relay_descriptor"

	// RawSubjectPrefix prefixes relay.raw.<frame type>.
	RawSubjectPrefix = "relay.raw."
	// RawSubjects matches every raw frame subject.
	RawSubjects = "relay.raw.>"
	// InboundSubjects matches every event subject.
	InboundSubjects = "relay.inbound.>"
	// InboundMessageSubjects matches every MessageEvent subject.
	InboundMessageSubjects = "relay.inbound.message.>"
	// InboundInterruptSubjects matches every Interrupt subject.
	InboundInterruptSubjects = "relay.inbound.interrupt.>"
	// OutboundSubjectPrefix prefixes relay.outbound.<op>.
	OutboundSubjectPrefix = "relay.outbound."
	// OutboundSubjects matches every action subject.
	OutboundSubjects = "relay.outbound.>"
	// ResultsSubjectPrefix prefixes relay.results.<action id>.
	ResultsSubjectPrefix = "relay.results."
	// WritingSubjectPrefix prefixes relay.egress.writing.<action id>, kept
	// in RELAY_RESULTS (the last message per subject): egress's durable
	// note that an action's frame is about to be written (WritingBegun) or
	// was not written after all (WritingNot). A redelivered action with no
	// stored result whose note says "begun" may already have reached the
	// connector, so it is answered ambiguous and never written again.
	WritingSubjectPrefix = "relay.egress.writing."
	// DLQSubjectPrefix prefixes relay.dlq.<stage>.
	DLQSubjectPrefix = "relay.dlq."
	// DLQSubjects matches every dead letter.
	DLQSubjects = "relay.dlq.>"

	// EdgeOutboundSubject is the request/reply endpoint of every live ws-edge
	// (queue group EdgeQueue): the body is an action's JSON, the reply a
	// result's JSON.
	EdgeOutboundSubject = "relay.edge.outbound"
	// EdgeQueue is the queue group ws-edge replicas share.
	EdgeQueue = "ws-edge"
	// ChatInfoSubject answers {chat_id} with {name, type}.
	ChatInfoSubject = "relay.rpc.chat_info"
)

// Stage names used in relay.dlq.<stage> and the Relay-Stage header.
const (
	StageWSEdge    = "ws-edge"
	StageConverter = "converter"
	StageEgress    = "egress"
)

// Header names.
const (
	// MsgIDHeader is JetStream's de-duplication header.
	MsgIDHeader = "Nats-Msg-Id"
	// ContentTypeHeader names the payload encoding.
	ContentTypeHeader = "Content-Type"
	// TypeHeader carries the versioned payload type id (TypeMessageEvent ...).
	TypeHeader = "Relay-Type"
	// SessionKeyHeader carries an event's session key.
	SessionKeyHeader = "Relay-Session-Key"
	// ChatHeader names the chat of a raw frame or an action (its subject's
	// chat token; docs/adr/0001-bus-contract.md §13): the stored subject
	// keeps only the partition, and a stage keeps the chat's messages in
	// order by this header.
	ChatHeader = "Relay-Chat"
	// EdgeHeader names the ws-edge instance that received a frame.
	EdgeHeader = "Relay-Edge"
	// ReceivedAtHeader is when ws-edge read the frame (RFC 3339, UTC, ns).
	ReceivedAtHeader = "Relay-Received-At"
	// RawSeqHeader and RawStoredAtHeader are, on an event or interrupt,
	// the RELAY_RAW stream sequence and stored time (RFC 3339, UTC, ns) of
	// the frame it was converted from: where a chat's order was decided
	// (ws-edge's publish order) can be read beside where it was stored.
	RawSeqHeader      = "Relay-Raw-Seq"
	RawStoredAtHeader = "Relay-Raw-Stored-At"
	// BufferIDHeader repeats a buffered frame's bufferId.
	BufferIDHeader = "Relay-Buffer-Id"
	// ErrorHeader is a dead letter's human-readable reason.
	ErrorHeader = "Relay-Error"
	// ErrorCodeHeader is a dead letter's stable Reason.
	ErrorCodeHeader = "Relay-Error-Code"
	// StageHeader names the stage that dead-lettered a message.
	StageHeader = "Relay-Stage"
	// SubjectHeader is a dead letter's original subject (replay target).
	SubjectHeader = "Relay-Subject"
	// RedactedHeader lists what a dead letter's writer removed or cut
	// (credentials, over-long values), as paths and sizes, never values.
	RedactedHeader = "Relay-Redacted"
	// PlatformHeader and BotIDHeader route an edge request to an identity.
	PlatformHeader = "Relay-Platform"
	BotIDHeader    = "Relay-Bot-Id"
	// DeadlineHeader lets an agent bound how long egress keeps retrying an
	// action (RFC 3339); the default is the op's deadline.
	DeadlineHeader = "Relay-Deadline"
	// ActionIDHeader names the action a result answers.
	ActionIDHeader = "Relay-Action-Id"
)

// Content types.
const (
	ContentTypeMsgpack = "application/msgpack"
	ContentTypeJSON    = "application/json"
)

// Versioned payload type ids, carried in TypeHeader.
const (
	TypeMessageEvent = "relaybus.events.v1.message_event"
	TypeInterrupt    = "relaybus.events.v1.interrupt"
	TypeAction       = "relaybus.events.v1.action"
	TypeSendResult   = "relaybus.events.v1.send_result"
	TypeScope        = "relaybus.events.v1.scope"
)

// RawSubject returns relay.raw.<frame type>. A type that is not a safe subject
// token is encoded with SubjectToken.
func RawSubject(frameType string) string { return RawSubjectPrefix + SubjectToken(frameType) }

// InboundMessageSubject returns relay.inbound.message.<platform>.<chat>.
func InboundMessageSubject(platform, chatID string) string {
	return "relay.inbound.message." + SubjectToken(platform) + "." + SubjectToken(chatID)
}

// InboundInterruptSubject returns relay.inbound.interrupt.<platform>.<chat>.
func InboundInterruptSubject(platform, chatID string) string {
	return "relay.inbound.interrupt." + SubjectToken(platform) + "." + SubjectToken(chatID)
}

// OutboundSubject returns relay.outbound.<op>.
func OutboundSubject(op string) string { return OutboundSubjectPrefix + SubjectToken(op) }

// ResultsSubject returns relay.results.<action id>.
func ResultsSubject(actionID string) string { return ResultsSubjectPrefix + SubjectToken(actionID) }

// WritingSubject returns relay.egress.writing.<action id>.
func WritingSubject(actionID string) string { return WritingSubjectPrefix + SubjectToken(actionID) }

// The bodies of a relay.egress.writing.<action id> note.
const (
	WritingBegun = "begun"
	WritingNot   = "not_written"
)

// DLQSubject returns relay.dlq.<stage>.
func DLQSubject(stage string) string { return DLQSubjectPrefix + SubjectToken(stage) }

// ScopeKey returns the relay_scope key of a chat: "<platform>.<chat>", each
// part a SubjectToken with '%' written as '=' (KV keys may not hold '%'; '='
// itself is always escaped by SubjectToken, so the mapping stays one-to-one).
func ScopeKey(platform, chatID string) string {
	return kvSafe(SubjectToken(platform)) + "." + kvSafe(SubjectToken(chatID))
}

// DescriptorKey returns the relay_descriptor key of a platform: its
// SubjectToken with '%' written as '=', like the parts of ScopeKey. (A bare
// SubjectToken is not always a valid KV key: KV keys may not hold '%'.)
func DescriptorKey(platform string) string { return kvSafe(SubjectToken(platform)) }

func kvSafe(tok string) string { return strings.ReplaceAll(tok, "%", "=") }

// EmptySubjectToken is the SubjectToken of the empty string: a subject token
// may not be empty. A lone '%' is never produced for a non-empty string
// (SubjectToken always follows '%' with two hex digits), so SubjectToken
// stays one-to-one.
const EmptySubjectToken = "%"

// MaxSubjectTokenLen bounds a SubjectToken: ids come from outside (a
// connector's frame type, a chat id, an agent's action id), and an unbounded
// one would make a subject longer than the server's control line (4 KiB),
// which closes the client's connection for good.
const MaxSubjectTokenLen = 160

// hashedPrefixLen is how much of an over-long token is kept readable.
const hashedPrefixLen = 64

// SubjectToken returns s as a subject-safe token: bytes outside [A-Za-z0-9_-]
// are percent-encoded (upper-case hex, per byte of the UTF-8 encoding), so
// dots, wildcards and spaces cannot change a subject's shape. The empty
// string is EmptySubjectToken. An encoding longer than MaxSubjectTokenLen is
// shortened to its first 64 bytes, "/" and the first 32 hex digits of the
// SHA-256 of s: '/' never appears in a plain token (it is encoded %2F) and is
// valid in subjects and KV keys alike. SubjectToken is one-to-one up to
// SHA-256 collisions; UnSubjectToken reverses plain tokens and reports false
// for shortened ones.
func SubjectToken(s string) string {
	if s == "" {
		return EmptySubjectToken
	}
	safe := len(s) <= MaxSubjectTokenLen
	for i := 0; safe && i < len(s); i++ {
		if !tokenSafe(s[i]) {
			safe = false
		}
	}
	if safe {
		return s
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, min(len(s)+8, MaxSubjectTokenLen+3))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if tokenSafe(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
		if len(b) > MaxSubjectTokenLen {
			return hashedToken(b, s)
		}
	}
	return string(b)
}

// hashedToken shortens an over-long token: a readable prefix (never cut
// inside a %XX escape), "/", and 32 hex digits of SHA-256(s).
func hashedToken(enc []byte, s string) string {
	n := hashedPrefixLen
	if i := bytes.LastIndexByte(enc[:n], '%'); i >= 0 && i > n-3 {
		n = i
	}
	sum := sha256.Sum256([]byte(s))
	return string(enc[:n]) + "/" + hex.EncodeToString(sum[:16])
}

// UnSubjectToken reverses SubjectToken. It reports false for a string
// SubjectToken cannot produce.
func UnSubjectToken(tok string) (string, bool) {
	if tok == EmptySubjectToken {
		return "", true
	}
	if len(tok) > MaxSubjectTokenLen {
		return "", false
	}
	if !strings.Contains(tok, "%") {
		for i := 0; i < len(tok); i++ {
			if !tokenSafe(tok[i]) {
				return "", false
			}
		}
		return tok, tok != ""
	}
	b := make([]byte, 0, len(tok))
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch {
		case c == '%':
			if i+2 >= len(tok) {
				return "", false
			}
			hi, ok1 := unhex(tok[i+1])
			lo, ok2 := unhex(tok[i+2])
			if !ok1 || !ok2 {
				return "", false
			}
			v := hi<<4 | lo
			if tokenSafe(v) {
				return "", false
			}
			b = append(b, v)
			i += 2
		case tokenSafe(c):
			b = append(b, c)
		default:
			return "", false
		}
	}
	return string(b), true
}

func tokenSafe(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
