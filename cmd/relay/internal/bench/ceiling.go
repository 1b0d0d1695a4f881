package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/pkg/events"
)

// The ceilings: the same durable JetStream pattern as a relaybus path,
// measured on the same server in the same run with the same payloads and
// de-duplication ids, with no relay logic. A path is reported as a ratio
// of its pattern's ceiling (docs/performance.md, "How to reproduce").
//
//   - oneHop: publish (async window) -> work-queue stream -> pull
//     consumer, ack. What ws-edge alone does.
//   - twoHop: publish -> work-queue stream -> consume, republish
//     asynchronously to a second stream, ack the input after its output's
//     PubAck -> consume, ack. What ws-edge + the converter + an agent do:
//     the inbound path's ceiling.
//   - hopAndResult: publish -> work-queue stream -> consume, store a small
//     result per message asynchronously, ack the input after the result's
//     PubAck. The egress path's ceiling (less the connector round trip).

// ceilingRun is one ceiling measurement: its streams exist until done.
type ceilingRun struct {
	js      jetstream.JetStream
	streams []string
}

func (c *ceilingRun) stream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	s, err := c.js.CreateOrUpdateStream(ctx, cfg)
	if err == nil {
		c.streams = append(c.streams, cfg.Name)
	}
	return s, err
}

func (c *ceilingRun) done(ctx context.Context) {
	for _, name := range c.streams {
		_ = c.js.DeleteStream(context.WithoutCancel(ctx), name)
	}
}

// consumeAll acks every message of s and counts them.
func consumeAll(ctx context.Context, s jetstream.Stream, got *atomic.Int64) (jetstream.ConsumeContext, error) {
	cons, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 4096})
	if err != nil {
		return nil, err
	}
	return cons.Consume(func(m jetstream.Msg) {
		_ = m.Ack()
		got.Add(1)
	}, jetstream.PullMaxMessages(512))
}

// republish consumes s and publishes out(m) for each message with an
// asynchronous publish on js, acking the input once its output's PubAck
// came (naking it when the publish failed): a stage without logic. done
// counts inputs acked. The returned stop waits for the acker.
func republish(ctx context.Context, js jetstream.JetStream, s jetstream.Stream, out func(jetstream.Msg) *nats.Msg, done *atomic.Int64) (stop func(), err error) {
	cons, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "relay", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 4096})
	if err != nil {
		return nil, err
	}
	type pending struct {
		in  jetstream.Msg
		paf jetstream.PubAckFuture
	}
	queue := make(chan pending, 4096)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for p := range queue {
			select {
			case <-p.paf.Ok():
				_ = p.in.Ack()
				done.Add(1)
			case <-p.paf.Err():
				_ = p.in.Nak()
			}
		}
	}()
	cc, err := cons.Consume(func(m jetstream.Msg) {
		paf, err := js.PublishMsgAsync(out(m), benchStall)
		if err != nil {
			_ = m.Nak()
			return
		}
		queue <- pending{m, paf}
	}, jetstream.PullMaxMessages(512))
	if err != nil {
		close(queue)
		wg.Wait()
		return nil, err
	}
	return func() {
		cc.Drain()
		<-cc.Closed()
		close(queue)
		wg.Wait()
	}, nil
}

// publishAll publishes payload(0..n-1) to subject with the async window
// and de-duplication ids ws-edge uses and waits for every PubAck.
func publishAll(ctx context.Context, js jetstream.JetStream, subject, idPrefix string, n int, payload func(uint64) []byte) error {
	return publishEach(ctx, js, n, func(i uint64) *nats.Msg {
		m := nats.NewMsg(subject)
		m.Data = payload(i)
		m.Header.Set(events.MsgIDHeader, idPrefix+strconv.FormatUint(i, 10))
		return m
	})
}

// publishEach publishes msg(0..n-1) asynchronously and waits for every
// PubAck.
func publishEach(ctx context.Context, js jetstream.JetStream, n int, msg func(uint64) *nats.Msg) error {
	for i := range n {
		if _, err := js.PublishMsgAsync(msg(uint64(i)), benchStall); err != nil {
			return err
		}
	}
	select {
	case <-js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ceilingResult is a ceiling's rate and the process CPU it took per
// message.
type ceilingResult struct {
	Rate      float64
	CPUPerMsg time.Duration
}

// measure times run until count reaches n and reads the process's CPU.
func measure(ctx context.Context, n int, count *atomic.Int64, run func() error) (ceilingResult, error) {
	cpu0, start := processCPU(), time.Now()
	if err := run(); err != nil {
		return ceilingResult{}, err
	}
	if err := waitFor(ctx, 2*time.Minute, func() bool { return count.Load() >= int64(n) }); err != nil {
		return ceilingResult{}, fmt.Errorf("%d of %d: %w", count.Load(), n, err)
	}
	el := time.Since(start)
	return ceilingResult{Rate: float64(n) / el.Seconds(), CPUPerMsg: (processCPU() - cpu0) / time.Duration(n)}, nil
}

// oneHopCeiling: publish -> work queue -> consume and ack.
func oneHopCeiling(ctx context.Context, js jetstream.JetStream, storage jetstream.StorageType, n int, dup time.Duration, payload func(uint64) []byte) (ceilingResult, error) {
	c := &ceilingRun{js: js}
	defer c.done(ctx)
	s, err := c.stream(ctx, jetstream.StreamConfig{Name: "BENCH_ONE", Subjects: []string{"bench.one.>"}, Storage: storage,
		Retention: jetstream.WorkQueuePolicy, Duplicates: dup})
	if err != nil {
		return ceilingResult{}, err
	}
	var got atomic.Int64
	cc, err := consumeAll(ctx, s, &got)
	if err != nil {
		return ceilingResult{}, err
	}
	defer cc.Stop()
	return measure(ctx, n, &got, func() error { return publishAll(ctx, js, "bench.one.x", "one-", n, payload) })
}

// twoHopCeiling: publish -> work queue -> republish asynchronously, ack
// after PubAck -> a limits stream -> consume and ack. relay is the
// republisher's own JetStream context (a stage's connection).
func twoHopCeiling(ctx context.Context, js, relay jetstream.JetStream, storage jetstream.StorageType, n int, dup time.Duration, payload func(uint64) []byte) (ceilingResult, error) {
	c := &ceilingRun{js: js}
	defer c.done(ctx)
	in, err := c.stream(ctx, jetstream.StreamConfig{Name: "BENCH_HOP1", Subjects: []string{"bench.hop1.>"}, Storage: storage,
		Retention: jetstream.WorkQueuePolicy, Duplicates: dup})
	if err != nil {
		return ceilingResult{}, err
	}
	out, err := c.stream(ctx, jetstream.StreamConfig{Name: "BENCH_HOP2", Subjects: []string{"bench.hop2.>"}, Storage: storage,
		Retention: jetstream.LimitsPolicy, Duplicates: 2 * time.Minute})
	if err != nil {
		return ceilingResult{}, err
	}
	var relayed, got atomic.Int64
	stop, err := republish(ctx, relay, in, func(m jetstream.Msg) *nats.Msg {
		o := nats.NewMsg("bench.hop2.x")
		o.Data = m.Data()
		o.Header.Set(events.MsgIDHeader, "ev:"+m.Headers().Get(events.MsgIDHeader))
		return o
	}, &relayed)
	if err != nil {
		return ceilingResult{}, err
	}
	defer stop()
	cc, err := consumeAll(ctx, out, &got)
	if err != nil {
		return ceilingResult{}, err
	}
	defer cc.Stop()
	return measure(ctx, n, &got, func() error { return publishAll(ctx, js, "bench.hop1.x", "hop-", n, payload) })
}

// hopAndResultCeiling: publish -> work queue -> store a result per
// message asynchronously (one subject each, the last kept), ack after
// PubAck.
func hopAndResultCeiling(ctx context.Context, js, relay jetstream.JetStream, storage jetstream.StorageType, n int, dup time.Duration, payload func(uint64) []byte) (ceilingResult, error) {
	c := &ceilingRun{js: js}
	defer c.done(ctx)
	in, err := c.stream(ctx, jetstream.StreamConfig{Name: "BENCH_OUT", Subjects: []string{"bench.out.>"}, Storage: storage,
		Retention: jetstream.WorkQueuePolicy, Duplicates: dup})
	if err != nil {
		return ceilingResult{}, err
	}
	if _, err := c.stream(ctx, jetstream.StreamConfig{Name: "BENCH_RES", Subjects: []string{"bench.res.>"}, Storage: storage,
		Retention: jetstream.LimitsPolicy, MaxMsgsPerSubject: 1, Duplicates: 2 * time.Minute}); err != nil {
		return ceilingResult{}, err
	}
	result, _ := events.Marshal(events.SendResult{Success: true, MessageID: "1450000000000000000"}, events.ContentTypeMsgpack)
	var done atomic.Int64
	stop, err := republish(ctx, relay, in, func(m jetstream.Msg) *nats.Msg {
		id := m.Headers().Get(events.MsgIDHeader)
		o := nats.NewMsg("bench.res." + id)
		o.Data = result
		o.Header.Set(events.MsgIDHeader, "res:"+id)
		return o
	}, &done)
	if err != nil {
		return ceilingResult{}, err
	}
	defer stop()
	return measure(ctx, n, &done, func() error { return publishAll(ctx, js, "bench.out.x", "out-", n, payload) })
}
