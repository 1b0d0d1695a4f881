// Package relaytest runs the relaybus pipeline for the cross-service fault
// and bad-input tests in this module: stage binaries built once and run as
// real processes (so they can be killed with SIGKILL), stages run in-process
// on their own NATS connections, embedded NATS servers (single, restartable
// on the same port and store, or a three-node JetStream cluster), the dev
// connector, an "agent" that counts events by id through a durable pull
// consumer, paced traffic, and exact accounting of what arrived.
//
// Every helper takes a testing.TB, calls tb.Helper, bounds its waits with a
// deadline and registers its own teardown with tb.Cleanup. Nothing here
// sleeps to synchronize: waits poll a condition (pacing a producer with a
// ticker is the only timed loop).
package relaytest
