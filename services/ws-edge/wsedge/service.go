package wsedge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/relaybus/relaybus/internal/bus"
	"github.com/relaybus/relaybus/internal/natsconn"
	"github.com/relaybus/relaybus/internal/stage"
	"github.com/relaybus/relaybus/pkg/descriptor"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/wire"
)

// serviceName is the NATS micro service name every replica registers.
const serviceName = "relay-ws-edge"

// Deps are the dependencies New wires in (see [stage.Deps]): NC is
// required, Run drains it on the way out.
type Deps = stage.Deps

// Service is one ws-edge replica: it holds the connector socket, publishes
// every data frame to JetStream and acks buffered frames once stored, and
// answers edge requests (outbound actions, chat info). Its methods are safe
// for concurrent use; Run may be called once.
type Service struct {
	stage.Base
	cfg Config
	m   *metrics

	dialURL    string
	dialer     websocket.Dialer
	identities events.Identities
	hellos     []byte // every hello frame, written as one message after a dial
	primary    string
	edgeHdr    []string // Relay-Edge header value, shared by every message
	pipe       *pipeline
	acklog     *ackLog
	waiters    *waiters
	outSem     chan struct{}
	outWG      sync.WaitGroup
	badLog     *rateLog
	connSeq    atomic.Uint64
	running    atomic.Bool
	revoked    atomic.Bool
	kv         atomic.Pointer[jetstream.KeyValue]
	descMu     sync.RWMutex
	descs      map[string]descriptor.Descriptor
	curMu      sync.RWMutex
	cur        *conn // the socket outbound requests use; nil when down
	resultNC   []byte
	resultLost []byte
	resultTO   []byte
}

// New validates cfg and builds a Service; nothing is dialed or published
// until Run.
func New(cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	window := cfg.PublishWindow
	base, err := stage.NewBase(deps, ErrInvalidConfig,
		// Our own slots bound the window; the client's limit only has to
		// stay out of the way (a stall there would fail publishes).
		jetstream.WithPublishAsyncMaxPending(2*window+16),
		jetstream.WithPublishAsyncTimeout(cfg.PublishTimeout),
	)
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(base.Reg)
	if err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	dialURL, _ := wire.DialURL(cfg.RelayURL) // checked by Validate
	if cfg.InstanceID == "" {
		cfg.InstanceID = defaultInstanceID()
	}
	s := &Service{
		Base:    base,
		cfg:     cfg,
		m:       m,
		dialURL: dialURL,
		dialer: websocket.Dialer{
			HandshakeTimeout: cfg.DialTimeout,
			ReadBufferSize:   64 << 10,
			WriteBufferSize:  64 << 10,
		},
		edgeHdr: []string{cfg.InstanceID},
		waiters: newWaiters(),
		outSem:  make(chan struct{}, cfg.OutboundConcurrency),
		badLog:  newRateLog(base.Now, time.Minute),
		descs:   make(map[string]descriptor.Descriptor),
	}
	ids, err := events.ParseIdentities(strings.Join(cfg.Platforms, ","), cfg.BotIDs)
	if err != nil {
		s.Log.Warn(err.Error())
	}
	s.identities = ids
	s.primary = ids.Primary()
	for _, id := range ids {
		s.hellos = wire.AppendHello(s.hellos, id.Platform, id.BotID)
	}
	s.descs[s.primary] = descriptor.Placeholder(s.primary)
	s.resultNC = mustJSON(events.ResultNotConnected)
	s.resultLost = mustJSON(events.ResultConnLost)
	s.resultTO = mustJSON(events.ResultTimedOut)
	s.pipe = newPipeline(s)
	s.acklog = newAckLog(s)
	if cfg.RelayID == "" || cfg.RelaySecret == "" {
		s.Log.Warn("relay dial is unauthenticated: GATEWAY_RELAY_ID or GATEWAY_RELAY_SECRET is unset (development connectors only)")
	}
	if err := s.Reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "relay_wsedge_socket_queue_length",
		Help: "Frames queued for the connector socket's writer (outbound, acks, interrupts): a backlog means the connector reads slowly.",
	}, func() float64 {
		if c := s.current(); c != nil {
			return float64(len(c.out))
		}
		return 0
	})); err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	return s, nil
}

func defaultInstanceID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "ws-edge"
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	return host + "-" + hex.EncodeToString(b[:])
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // programmer error: the synthesized results are constants
	}
	return b
}

// Run connects to the connector and serves until ctx is done (then it
// drains: going_idle, in-flight publishes and acks, close 1000, micro stop,
// NATS drain, and returns nil) or the credential is revoked (the same way
// out, returning ErrRevoked). It ensures the streams and buckets first,
// retrying while NATS is unreachable. It serves no ops port: the process's
// lifecycle (package stage) serves Live, Ready and the metrics.
func (s *Service) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	s.Log.Info("ws-edge starting", "relay_url", s.dialURL, "instance_id", s.cfg.InstanceID, "identities", len(s.identities))
	if !bus.EnsureRetry(ctx, s.JS, s.cfg.Bus, s.Log) {
		return natsconn.Drain(s.NC, s.cfg.ShutdownTimeout)
	}
	kv, err := s.JS.KeyValue(ctx, events.DescriptorBucket)
	if err != nil {
		s.Log.Warn("descriptor bucket unavailable; descriptors will not be stored", "err", err)
	} else {
		s.kv.Store(&kv)
	}
	svc, err := s.addMicro()
	if err != nil {
		_ = natsconn.Drain(s.NC, s.cfg.ShutdownTimeout)
		return err
	}
	// The endpoints' subscriptions reach the server before the first dial,
	// so a handshaken socket is never behind an unreachable endpoint.
	if err := s.NC.FlushTimeout(s.cfg.PublishTimeout); err != nil {
		s.Log.Warn("flushing endpoint subscriptions", "err", err)
	}
	s.acklog.start()
	s.pipe.start()

	runErr := s.connectLoop(ctx)

	// On the way out: every connection is closed and its reader gone, so
	// nothing new enters the pipeline; the pipeline's last acks go through
	// the ack log.
	s.pipe.stop(s.cfg.ShutdownTimeout)
	s.acklog.stop(s.cfg.ShutdownTimeout)
	if err := svc.Stop(); err != nil {
		s.Log.Warn("stopping micro service", "err", err)
	}
	s.waitOutbound(s.cfg.ShutdownTimeout)
	if err := natsconn.Drain(s.NC, s.cfg.ShutdownTimeout); err != nil && runErr == nil {
		runErr = err
	}
	s.Log.Info("ws-edge stopped")
	return runErr
}

func (s *Service) addMicro() (micro.Service, error) {
	svc, err := micro.AddService(s.NC, micro.Config{
		Name:        serviceName,
		Version:     s.cfg.Version,
		Description: "relaybus ws-edge: the connector socket (outbound actions, chat info)",
		Metadata:    map[string]string{"instance_id": s.cfg.InstanceID},
	})
	if err != nil {
		return nil, fmt.Errorf("registering micro service: %w", err)
	}
	if err := svc.AddEndpoint("outbound", micro.HandlerFunc(s.serveOutbound),
		micro.WithEndpointSubject(events.EdgeOutboundSubject),
		micro.WithEndpointQueueGroup(events.EdgeQueue)); err != nil {
		_ = svc.Stop()
		return nil, fmt.Errorf("adding outbound endpoint: %w", err)
	}
	if err := svc.AddEndpoint("chat_info", micro.HandlerFunc(s.serveChatInfo),
		micro.WithEndpointSubject(events.ChatInfoSubject),
		micro.WithEndpointQueueGroup(events.EdgeQueue)); err != nil {
		_ = svc.Stop()
		return nil, fmt.Errorf("adding chat_info endpoint: %w", err)
	}
	return svc, nil
}

// Live is the liveness probe: it fails once the credential was revoked
// (restarting will not help until an operator acts, but the probe must say
// so loudly).
func (s *Service) Live(context.Context) error {
	if s.revoked.Load() {
		return ErrRevoked
	}
	if s.NC.IsClosed() {
		return errors.New("wsedge: nats connection closed")
	}
	return nil
}

// Ready is the readiness probe: NATS connected, streams and buckets present,
// the connector socket up and handshaken, the credential not revoked.
func (s *Service) Ready(ctx context.Context) error {
	if s.revoked.Load() {
		return ErrRevoked
	}
	if !s.NC.IsConnected() {
		return ErrNATSDisconnected
	}
	if err := bus.Check(ctx, s.JS, s.cfg.Bus); err != nil {
		return err
	}
	if s.current() == nil {
		return ErrNotHandshaken
	}
	return nil
}

// current returns the handshaken socket that takes outbound frames, or nil.
func (s *Service) current() *conn {
	s.curMu.RLock()
	defer s.curMu.RUnlock()
	return s.cur
}

func (s *Service) setCurrent(c *conn) {
	s.curMu.Lock()
	s.cur = c
	s.curMu.Unlock()
}

// clearCurrent unsets c if it is the current socket.
func (s *Service) clearCurrent(c *conn) {
	s.curMu.Lock()
	if s.cur == c {
		s.cur = nil
	}
	s.curMu.Unlock()
}

// descriptorFor returns the descriptor of platform, or the primary's.
func (s *Service) descriptorFor(platform string) descriptor.Descriptor {
	s.descMu.RLock()
	defer s.descMu.RUnlock()
	if d, ok := s.descs[platform]; ok {
		return d
	}
	return s.descs[s.primary]
}
