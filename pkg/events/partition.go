package events

import (
	"strconv"
	"strings"
)

// Per-chat order at any scale (docs/adr/0001-bus-contract.md, §13):
// the subjects of the two work streams name the chat as their last token,
//
//	relay.raw.<frame type>.<chat key>   (ws-edge; wire.ChatKey)
//	relay.outbound.<op>.<chat>          (agents; OutboundChatSubject)
//
// and each stream's subject transform replaces it with the chat's
// partition, a hash of that token modulo the partition count
// (RELAY_PARTITIONS):
//
//	relay.raw.<frame type>.<partition>
//	relay.outbound.<op>.<partition>
//
// The stored subjects are few (types × partitions): the server's
// per-subject bookkeeping of a work queue grows costly with thousands of
// subjects (one per chat), which measured 1.6–3× slower to consume. The
// chat rides along in the ChatHeader, set by the publisher.
//
// A stage consumes each partition through its own durable consumer,
// pinned by the server to one replica at a time, and each chat's messages
// in order within it (package consume). A subject without the chat token
// (relay.outbound.send from a shell, a frame stored by an older ws-edge)
// is stored as published and consumed, unordered, by the stage's shared
// durable.

// DefaultPartitions is the default partition count (RELAY_PARTITIONS).
const DefaultPartitions = 4

// RawChatSubject returns relay.raw.<frame type>.<chat key>.
func RawChatSubject(frameType, chatKey string) string {
	return RawSubjectPrefix + SubjectToken(frameType) + "." + SubjectToken(chatKey)
}

// OutboundChatSubject returns relay.outbound.<op>.<chat>: an action for a
// chat, ordered after the chat's earlier actions. chatID is the action's
// chat_id, or for an action addressed by session (follow_up, interrupt)
// the chat of its session key (ActionChat).
func OutboundChatSubject(op, chatID string) string {
	if chatID == "" {
		return OutboundSubject(op)
	}
	return OutboundSubjectPrefix + SubjectToken(op) + "." + SubjectToken(chatID)
}

// ActionChat returns the chat an action belongs to, for ordering: its
// chat_id, else the chat of its session key, else "".
func ActionChat(a *Action) string {
	if a.ChatID != "" {
		return a.ChatID
	}
	if _, chat, ok := SessionChat(a.SessionKey); ok {
		return chat
	}
	return ""
}

// Partitioned describes how one work stream is partitioned: the subject
// transform that appends the partition, and the filters that select one
// partition or the subjects stored without a chat.
type Partitioned struct {
	// Source and Destination are the stream's subject transform.
	Source, Destination string
	// Unkeyed matches the subjects that carry no chat (not transformed).
	Unkeyed string
	prefix  string
}

// RawPartitions and OutboundPartitions return the partitioning of
// RELAY_RAW and RELAY_OUTBOUND over n partitions.
func RawPartitions(n int) Partitioned      { return partitioned("relay.raw.", n) }
func OutboundPartitions(n int) Partitioned { return partitioned("relay.outbound.", n) }

func partitioned(prefix string, n int) Partitioned {
	return Partitioned{
		Source:      prefix + "*.*",
		Destination: prefix + "{{wildcard(1)}}.{{partition(" + strconv.Itoa(n) + ",2)}}",
		Unkeyed:     prefix + "*",
		prefix:      prefix,
	}
}

// Filter returns the filter subject of partition p.
func (pt Partitioned) Filter(p int) string { return pt.prefix + "*." + strconv.Itoa(p) }

// SubjectKind returns the kind of a raw or outbound subject (its frame
// type or op, still a subject token), whatever follows it.
func SubjectKind(subject string) string {
	rest, ok := strings.CutPrefix(subject, RawSubjectPrefix)
	if !ok {
		rest, _ = strings.CutPrefix(subject, OutboundSubjectPrefix)
	}
	kind, _, _ := strings.Cut(rest, ".")
	return kind
}
