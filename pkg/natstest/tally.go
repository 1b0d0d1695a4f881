package natstest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Tally checks exactly-once delivery: it compares what arrived with what
// was sent, got mapping an id to the number of times it arrived. It logs
// "<what>: sent N, delivered D, lost L, duplicated U" and fails the test
// unless every sent id arrived exactly once and nothing else arrived.
func Tally(tb testing.TB, what string, sent []string, got map[string]int) {
	tb.Helper()
	want := make(map[string]bool, len(sent))
	for _, id := range sent {
		want[id] = true
	}
	var lost, dup, unexpected []string
	delivered := 0
	for _, id := range sent {
		switch n := got[id]; {
		case n == 0:
			lost = append(lost, id)
		case n > 1:
			dup = append(dup, fmt.Sprintf("%s×%d", id, n))
		}
	}
	for id, n := range got {
		delivered += n
		if !want[id] {
			unexpected = append(unexpected, id)
		}
	}
	slices.Sort(unexpected)
	tb.Logf("%s: sent %d, delivered %d, lost %d, duplicated %d", what, len(sent), delivered, len(lost), len(dup))
	if len(lost) > 0 || len(dup) > 0 || len(unexpected) > 0 {
		tb.Errorf("%s: lost %d %s, duplicated %d %s, unexpected %d %s; want 0, 0, 0",
			what, len(lost), sample(lost), len(dup), sample(dup), len(unexpected), sample(unexpected))
	}
}

// sample lists up to 10 of ids for a failure message.
func sample(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	if len(ids) > 10 {
		return "[" + strings.Join(ids[:10], " ") + " …]"
	}
	return "[" + strings.Join(ids, " ") + "]"
}
