package wsedge

import (
	"hash/fnv"
	"testing"
	"time"
)

// TestHashIDIsFNV1a: the ack log's hashes outlive processes and versions,
// so hashID must stay the 64-bit FNV-1a of hash/fnv.
func TestHashIDIsFNV1a(t *testing.T) {
	for _, id := range []string{"", "b-1", "b-2", "0b0f4f0e-6a51-4c1c-9b6c-1f2f3c4d5e6f", string(make([]byte, 256))} {
		h := fnv.New64a()
		_, _ = h.Write([]byte(id))
		if got, want := hashID(id), h.Sum64(); got != want {
			t.Errorf("hashID(%q) = %#x, want %#x", id, got, want)
		}
	}
}

func TestBatchRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 5, 13, 0, 0, 123, time.UTC)
	b := appendBatch(nil, at, []ackReq{{id: "b-1"}, {id: "b-2"}})
	got, hs, err := batchTime(b)
	if err != nil || !got.Equal(at) || len(hs) != 16 {
		t.Fatalf("batchTime = %v, %d bytes of hashes, %v; want %v, 16, nil", got, len(hs), err, at)
	}
	for _, bad := range [][]byte{nil, make([]byte, 7), make([]byte, 12)} {
		if _, _, err := batchTime(bad); err == nil {
			t.Errorf("batchTime(%d bytes) = nil error, want errBadBatch", len(bad))
		}
	}
}
