package bus

import "testing"

// FuzzParsePubAck: the fast path accepts only what the slow path (the
// reply decoded with encoding/json) accepts, with the same sequence.
func FuzzParsePubAck(f *testing.F) {
	for _, s := range []string{
		`{"stream":"RELAY_INBOUND","seq":1}`,
		`{"stream":"RELAY_INBOUND","seq":18446744073709551615}`,
		`{"stream":"S","seq":42,"duplicate":true}`,
		`{"stream":"S","domain":"hub","seq":7}`,
		`{"stream":"S","seq":7,"domain":"hub"}`,
		`{"stream":"","seq":3}`,
		`{"stream":"S","seq":0}`,
		`{"stream":"S","seq":-1}`,
		`{"stream":"S","seq":1e3}`,
		`{"stream":"S","seq":3,"seq":4}`,
		`{"stream":"S","seq":3}x`,
		`{"stream":"S\"","seq":3}`,
		`{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 0"},"stream":"S","seq":0}`,
		`{"stream":"error","seq":5}`,
		``, `{}`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		seq, ok := scanPubAck(b)
		if !ok {
			return
		}
		slow, err := decodePubAck(b)
		if err != nil || slow != seq {
			t.Fatalf("%q: fast path %d, slow path %d, %v", b, seq, slow, err)
		}
	})
}

func TestScanPubAck(t *testing.T) {
	for in, want := range map[string]uint64{
		`{"stream":"RELAY_INBOUND","seq":12}`:          12,
		`{"stream":"S","seq":42,"duplicate":true}`:     42,
		`{"stream":"S","domain":"hub","seq":7}`:        7,
		`{"stream":"error","seq":5}`:                   0, // left to the slow path
		`{"stream":"S","seq":3,"seq":4}`:               0,
		`{"stream":"","seq":3}`:                        0,
		`{"error":{"code":503},"stream":"S","seq":1}`:  0,
		`{"stream":"S","seq":1}trailing`:               0,
		`{"stream":"S","seq":99999999999999999999999}`: 0,
	} {
		if got, ok := scanPubAck([]byte(in)); got != want || ok != (want != 0) {
			t.Errorf("scanPubAck(%s) = %d, %v; want %d", in, got, ok, want)
		}
	}
}
