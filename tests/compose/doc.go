// Package compose runs relaybus as it is deployed: the images built by
// scripts/images.sh (make images), started with docker compose from the
// repository's docker-compose.yml (and docker-compose.cluster.yml), driven
// through the dev connector's HTTP API and answered by the echo agent.
//
// Every test counts, by message id, what was stored for the agents
// (RELAY_INBOUND, read back in stream order) and what the connector received
// (the echo agent's replies in GET /outbound), and fails on any id lost or
// duplicated. The cases: the dev loop end to end (and a graceful stop),
// scaled stages, docker kill -s KILL of replicas, a rolling restart of each
// stage, a NATS restart, and on a three-node cluster a node killed and a node
// cut off from the network.
//
// The suite is heavy (minutes, images, containers): it runs only with
// RELAYBUS_COMPOSE=1 (make test-compose sets it). Without a Docker engine it
// skips, unless RELAYBUS_REQUIRE_DOCKER=1 (.ci/run sets that whenever
// `docker info` succeeds), which turns the skip into a failure.
// RELAYBUS_COMPOSE_NO_BUILD=1 uses the images already built (and
// .images.env) instead of running scripts/images.sh once for the run.
// RELAYBUS_COMPOSE_LOG_LEVEL sets the stages' LOG_LEVEL (default info;
// debug logs each frame's publish and PubAck in ws-edge and each message's
// hand-offs in the consume loops), and RELAYBUS_COMPOSE_LOGS=<dir> keeps
// every project's full container logs, with timestamps, in a file there.
// An event stored out of its chat's order is described with its
// RELAY_INBOUND and RELAY_RAW sequences and times (Relay-Raw-Seq).
package compose
