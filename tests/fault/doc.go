// Package fault holds relaybus's zero-loss fault tests: each runs the
// pipeline (stage binaries as real processes where a crash is the point,
// in-process stages elsewhere, embedded NATS over loopback TCP, the dev
// connector), injects one fault mid-stream — kill -9 of a converter, an
// egress or a ws-edge, a connector dropping the socket every 100 ms, a NATS
// server restart, a cluster node shut down — and checks, by id, that every
// event reached the agent exactly once and every action was sent and
// answered as the delivery semantics promise. The order tests
// (order_test.go) check per-chat order end to end by sequence numbers, with
// replicas of every stage killed, added and stopped.
//
// The tests are slow by nature (one waits out a 30 s ack wait) and skip
// under -short. Run them with
//
//	go test -race -count=1 ./tests/fault
package fault
