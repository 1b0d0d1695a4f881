package relaytest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/devconnector"
	"github.com/relaybus/relaybus/internal/ops"
	"github.com/relaybus/relaybus/internal/stage"
	"github.com/relaybus/relaybus/pkg/natstest"
	"github.com/relaybus/relaybus/services/egress/egress"
	"github.com/relaybus/relaybus/services/passthrough-converter/converter"
	"github.com/relaybus/relaybus/services/ws-edge/wsedge"
)

// The dev connector's only gateway credential, and the platform it fronts.
const (
	GatewayID     = "gw-fault"
	GatewaySecret = "fault-secret"
	Platform      = "discord"
)

// StartConnector starts an authenticated dev connector on a loopback port,
// closed at cleanup. mutate, when given, adjusts its configuration.
func StartConnector(tb testing.TB, mutate ...func(*devconnector.Config)) *devconnector.Server {
	tb.Helper()
	cfg := devconnector.Config{
		Gateways: map[string]string{GatewayID: GatewaySecret},
		Log:      Logger(tb).With("component", "devconnector"),
	}
	for _, m := range mutate {
		m(&cfg)
	}
	dev, err := devconnector.New(cfg)
	if err != nil {
		tb.Fatalf("relaytest: dev connector: %v", err)
	}
	if err := dev.Start(); err != nil {
		tb.Fatalf("relaytest: dev connector: %v", err)
	}
	tb.Cleanup(func() { _ = dev.Close() })
	return dev
}

// EdgeEnv returns the environment of a ws-edge process dialing dev with a
// fast reconnect ladder, serving ops on httpAddr, against natsURL.
func EdgeEnv(dev *devconnector.Server, natsURL, httpAddr, instance string) map[string]string {
	return map[string]string{
		"NATS_URL":                natsURL,
		"GATEWAY_RELAY_URL":       dev.URL(),
		"GATEWAY_RELAY_ID":        GatewayID,
		"GATEWAY_RELAY_SECRET":    GatewaySecret,
		"GATEWAY_RELAY_PLATFORMS": Platform,
		"WSEDGE_HTTP_ADDR":        httpAddr,
		"WSEDGE_INSTANCE_ID":      instance,
		"WSEDGE_BACKOFF_MIN":      "20ms",
		"WSEDGE_BACKOFF_MAX":      "200ms",
		"WSEDGE_PUBLISH_TIMEOUT":  "3s",
		"LOG_FORMAT":              "text",
	}
}

// EdgeConfig is an in-process ws-edge's configuration for dev: a fast
// reconnect ladder and short publish and shutdown timeouts.
func EdgeConfig(dev *devconnector.Server, b bus.Config) wsedge.Config {
	cfg := wsedge.DefaultConfig()
	cfg.RelayURL = dev.URL()
	cfg.RelayID, cfg.RelaySecret = GatewayID, GatewaySecret
	cfg.Platforms = []string{Platform}
	cfg.InstanceID = "edge-inproc"
	cfg.BackoffMin, cfg.BackoffMax = 10*time.Millisecond, 100*time.Millisecond
	cfg.PublishTimeout = 3 * time.Second
	cfg.OutboundTimeout = 5 * time.Second
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.Bus = b
	return cfg
}

// ConverterConfig is an in-process converter's configuration.
func ConverterConfig(b bus.Config) converter.Config {
	cfg := converter.DefaultConfig()
	cfg.Workers = 16
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.Bus = b
	return cfg
}

// EgressConfig is an in-process egress's configuration: a short ack wait
// and retry ladder so that redeliveries happen within a test's budget.
func EgressConfig(b bus.Config) egress.Config {
	cfg := egress.DefaultConfig()
	cfg.Workers = 16
	cfg.AckWait = 5 * time.Second
	cfg.EdgeTimeout = 10 * time.Second
	cfg.RetryBase, cfg.RetryMax = 50*time.Millisecond, time.Second
	cfg.PrimaryPlatform = Platform
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.Bus = b
	return cfg
}

// Stage is an in-process stage with the registry its metrics go to.
type Stage[S Prober] struct {
	Service S
	// Metrics receives the stage's metrics; read them with [Stage.Metric].
	Metrics *prometheus.Registry
}

// Ready reports the stage's readiness.
func (s Stage[S]) Ready(ctx context.Context) error { return s.Service.Ready(ctx) }

// Live reports the stage's liveness.
func (s Stage[S]) Live(ctx context.Context) error { return s.Service.Live(ctx) }

// Metric returns the sum of the stage's metric name over the series whose
// labels include every given pair (k1, v1, ...).
func (s Stage[S]) Metric(tb testing.TB, name string, labels ...string) float64 {
	tb.Helper()
	m, err := ops.Gather(s.Metrics)
	if err != nil {
		tb.Fatalf("relaytest: gathering metrics: %v", err)
	}
	return m.Sum(name, labels...)
}

// RunEdge runs ws-edge in-process on its own connection to natsURL until
// cleanup, which stops it and checks that Run returned nil.
func RunEdge(tb testing.TB, cfg wsedge.Config, natsURL string) Stage[*wsedge.Service] {
	tb.Helper()
	return runStage(tb, "ws-edge", Connect(tb, natsURL, "ws-edge"), wsedge.New, cfg)
}

// RunConverter runs a converter replica in-process (see [RunEdge]).
func RunConverter(tb testing.TB, cfg converter.Config, natsURL string) Stage[*converter.Service] {
	tb.Helper()
	return runStage(tb, "converter", Connect(tb, natsURL, "passthrough-converter"), converter.New, cfg)
}

// RunEgress runs an egress replica in-process (see [RunEdge]).
func RunEgress(tb testing.TB, cfg egress.Config, natsURL string) Stage[*egress.Service] {
	tb.Helper()
	return runStage(tb, "egress", Connect(tb, natsURL, "egress"), egress.New, cfg)
}

// runStage builds a stage with newStage from cfg and its deps (a logger
// labelled name, nc, and a registry of its own) and runs it until cleanup,
// which stops it and checks that Run returned nil.
func runStage[C any, S interface {
	Prober
	Run(context.Context) error
}](tb testing.TB, name string, nc *nats.Conn, newStage func(C, stage.Deps) (S, error), cfg C) Stage[S] {
	tb.Helper()
	reg := prometheus.NewRegistry()
	svc, err := newStage(cfg, stage.Deps{Log: Logger(tb).With("stage", name), NC: nc, Registerer: reg})
	if err != nil {
		tb.Fatalf("relaytest: %s: %v", name, err)
	}
	natstest.Go(tb, name, svc.Run)
	return Stage[S]{svc, reg}
}

// Prober is the health surface every stage has.
type Prober interface {
	Ready(context.Context) error
	Live(context.Context) error
}

// WaitReady waits until every stage is ready.
func WaitReady(tb testing.TB, timeout time.Duration, stages ...Prober) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for i, p := range stages {
		natstest.WaitFor(tb, time.Until(deadline), func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := p.Ready(ctx); err != nil {
				return fmt.Errorf("stage %d not ready: %w", i, err)
			}
			return nil
		})
	}
}

// CheckLive fails the test unless every stage is live and ready now.
func CheckLive(tb testing.TB, stages ...Prober) {
	tb.Helper()
	for i, p := range stages {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := p.Live(ctx); err != nil {
			tb.Errorf("stage %d: Live = %v, want nil", i, err)
		}
		if err := p.Ready(ctx); err != nil {
			tb.Errorf("stage %d: Ready = %v, want nil", i, err)
		}
		cancel()
	}
}
