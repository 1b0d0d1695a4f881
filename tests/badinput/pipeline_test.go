package badinput_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/devconnector"
	"github.com/relaybus/relaybus/services/egress/egress"
	"github.com/relaybus/relaybus/services/passthrough-converter/converter"
	"github.com/relaybus/relaybus/services/ws-edge/wsedge"
	"github.com/relaybus/relaybus/tests/internal/relaytest"
)

// pipeline is the whole relay, in-process, with an agent and a results
// subscriber.
type pipeline struct {
	dev   *devconnector.Server
	js    jetstream.JetStream
	edge  relaytest.Stage[*wsedge.Service]
	conv  relaytest.Stage[*converter.Service]
	eg    relaytest.Stage[*egress.Service]
	agent *relaytest.Agent
	res   *relaytest.Results
}

// startPipeline starts NATS, the dev connector and the three stages, and
// waits until they are ready. edge, when given, adjusts ws-edge's
// configuration.
func startPipeline(t *testing.T, edge ...func(*wsedge.Config)) *pipeline {
	t.Helper()
	ns := relaytest.StartNATS(t)
	p := &pipeline{dev: relaytest.StartConnector(t)}
	b := bus.DefaultConfig()
	edgeCfg := relaytest.EdgeConfig(p.dev, b)
	for _, f := range edge {
		f(&edgeCfg)
	}
	p.edge = relaytest.RunEdge(t, edgeCfg, ns.URL())
	p.conv = relaytest.RunConverter(t, relaytest.ConverterConfig(b), ns.URL())
	p.eg = relaytest.RunEgress(t, relaytest.EgressConfig(b), ns.URL())
	relaytest.WaitReady(t, 60*time.Second, p.edge, p.conv, p.eg)
	nc := relaytest.Connect(t, ns.URL(), "agent")
	p.js = relaytest.JetStream(t, nc)
	p.agent = relaytest.StartAgent(t, p.js, "agent")
	p.res = relaytest.SubscribeResults(t, nc)
	return p
}

// publish stores m in JetStream or fails the test.
func (p *pipeline) publish(t *testing.T, m *nats.Msg) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := p.js.PublishMsg(ctx, m); err != nil {
		t.Fatalf("publishing %s: %v", m.Subject, err)
	}
}
