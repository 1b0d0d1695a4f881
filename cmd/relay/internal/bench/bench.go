// Package bench is `relay bench`: it measures the pipeline (the stack of
// package stack, in this process) against the raw JetStream ceiling in the
// same run, and with --allinone soaks the all-in-one binary in a child
// process (allinone.go).
package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/procfs"

	"github.com/relaybus/relaybus/cmd/relay/internal/memlimit"
	"github.com/relaybus/relaybus/cmd/relay/internal/stack"
	"github.com/relaybus/relaybus/internal/devconnector"
	"github.com/relaybus/relaybus/internal/fixtures"
	"github.com/relaybus/relaybus/internal/natsembed"
	"github.com/relaybus/relaybus/internal/ops"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/wire"
)

type benchConfig struct {
	Inbound     int
	Egress      int
	Rate        int
	LatencyFor  time.Duration
	Soak        time.Duration
	SoakRate    int
	JSON        bool
	DupWindow   time.Duration
	KeepDataDir bool
	Storage     string
	MemProfile  string
	// InboundProfile is where the inbound run's CPU profile goes ("":
	// nowhere; the breakdown is reported either way).
	InboundProfile string
	// EgressProfile is the same for the egress run.
	EgressProfile string
	// LatencyTrace is where an execution trace of the latency run goes
	// ("": none): what stalls the slow interactions (go tool trace).
	LatencyTrace string
	AllInOne     bool
	// Converters and Egresses are how many replicas of each stage run
	// (the stack's own plus in-process extras on the same server).
	Converters, Egresses int
}

// benchReport is what relay bench prints (and --json emits).
type benchReport struct {
	Machine struct {
		CPUs      int    `json:"cpus"`
		GoVersion string `json:"go_version"`
	} `json:"machine"`
	Storage    string `json:"storage"`
	Partitions int    `json:"partitions"`
	Converters int    `json:"converter_replicas"`
	Egresses   int    `json:"egress_replicas"`
	// InboundCeiling is the two-hop ceiling (ceiling.go); before session 5
	// it was the one-hop one, now InboundOneHopCeiling.
	InboundCeiling       float64 `json:"inbound_ceiling_msgs_per_s"`
	InboundOneHopCeiling float64 `json:"inbound_one_hop_ceiling_msgs_per_s"`
	Inbound              float64 `json:"inbound_msgs_per_s"`
	InboundRatio         float64 `json:"inbound_ratio"`
	InboundMessages      int     `json:"inbound_messages"`
	// CPU of the whole process (relaybus, nats-server, the bench's
	// connector and agent) per message, in µs; the breakdown comes from a
	// CPU profile of the inbound run, by pprof label (cpu.go); RelayCPU is
	// ws-edge + converter + agent client.
	InboundCeilingCPU     float64            `json:"inbound_ceiling_cpu_us_per_msg"`
	InboundCPU            float64            `json:"inbound_cpu_us_per_interaction"`
	InboundCPUByComponent map[string]float64 `json:"inbound_cpu_us_by_component,omitempty"`
	RelayCPU              float64            `json:"relay_cpu_us_per_interaction,omitempty"`
	EgressCPUByComponent  map[string]float64 `json:"egress_cpu_us_by_component,omitempty"`
	EgressCeiling         float64            `json:"egress_ceiling_msgs_per_s"`
	EgressCeilingCPU      float64            `json:"egress_ceiling_cpu_us_per_msg"`
	Egress                float64            `json:"egress_msgs_per_s"`
	EgressCPU             float64            `json:"egress_cpu_us_per_send"`
	EgressRatio           float64            `json:"egress_ratio"`
	EgressMessages        int                `json:"egress_messages"`
	LatencyRate           int                `json:"latency_offered_per_s"`
	LatencyCount          int                `json:"latency_samples"`
	LatencyP50            time.Duration      `json:"latency_p50_ns"`
	LatencyP90            time.Duration      `json:"latency_p90_ns"`
	LatencyP99            time.Duration      `json:"latency_p99_ns"`
	LatencyMax            time.Duration      `json:"latency_max_ns"`
	CeilingLatencyP99     time.Duration      `json:"ceiling_latency_p99_ns"`
	// LatencyHopP50 and LatencyHopP99 split the latency run's interactions
	// by hop, from the store times on the way: "ws-edge" (connector write
	// to stored in RELAY_RAW), "converter" (stored in RELAY_RAW to its
	// event stored in RELAY_INBOUND: Relay-Raw-Stored-At and the event's
	// own time), "agent" (stored in RELAY_INBOUND to handled by the agent).
	LatencyHopP50    map[string]time.Duration `json:"latency_hop_p50_ns,omitempty"`
	LatencyHopP99    map[string]time.Duration `json:"latency_hop_p99_ns,omitempty"`
	PeakRSSBytes     int64                    `json:"peak_rss_bytes"`
	Soak             []soakSample             `json:"soak,omitempty"`
	SoakVerdict      string                   `json:"soak_verdict,omitempty"`
	SoakProcess      string                   `json:"soak_process,omitempty"`
	Lost             int                      `json:"lost"`
	DuplicatedEvents int                      `json:"duplicated"`
}

type soakSample struct {
	At         time.Duration `json:"at_ns"`
	RSSBytes   int64         `json:"rss_bytes"`
	Goroutines int           `json:"goroutines"`
	HeapBytes  uint64        `json:"heap_bytes"`
	Delivered  int64         `json:"delivered"`
}

// Run runs `relay bench` with args (see -h) and prints the report to
// stdout, progress to stderr. It fails when an event was lost or
// duplicated, or the soak's verdict is not ok.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: relay bench [--inbound N] [--egress N] [--rate R] [--latency-for D] [--soak D] [--json]\n\nflags:\n")
		fs.PrintDefaults()
	}
	var c benchConfig
	fs.IntVar(&c.Inbound, "inbound", 60000, "Discord interactions to push through ws-edge -> converter -> agent")
	fs.IntVar(&c.Egress, "egress", 40000, "send actions to push through egress -> ws-edge -> connector")
	fs.IntVar(&c.Rate, "rate", 2000, "offered rate (interactions/s) for the latency run")
	fs.DurationVar(&c.LatencyFor, "latency-for", 5*time.Second, "duration of the latency run")
	fs.DurationVar(&c.Soak, "soak", 0, "also run a soak at --soak-rate for this long, sampling RSS and goroutines")
	fs.IntVar(&c.SoakRate, "soak-rate", 5000, "offered rate (interactions/s) during the soak")
	fs.BoolVar(&c.JSON, "json", false, "print one JSON object instead of a table")
	fs.DurationVar(&c.DupWindow, "dup-window", time.Hour, "replay protection horizon (RELAY_DUPLICATE_WINDOW: ws-edge's ack log and the results' age; the server windows are RELAY_RAW_DUPLICATE_WINDOW and RELAY_OUTBOUND_DUPLICATE_WINDOW, taken from the environment)")
	fs.BoolVar(&c.AllInOne, "allinone", false, "soak the all-in-one binary in a child process (its own RSS, without the connector and agent); needs --soak, skips the throughput runs")
	fs.StringVar(&c.Storage, "storage", "file", "JetStream storage for the pipeline and the ceiling: file or memory")
	fs.IntVar(&c.Converters, "converters", 1, "converter replicas (in this process, on the same server): the scale-out run")
	fs.IntVar(&c.Egresses, "egresses", 1, "egress replicas (in this process, on the same server): the scale-out run")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	fs.StringVar(&c.InboundProfile, "inbound-cpuprofile", "", "write the CPU profile of the inbound run (the one the breakdown by component is read from) to this file")
	fs.StringVar(&c.LatencyTrace, "latency-trace", "", "write an execution trace of the latency run to this file (go tool trace)")
	fs.StringVar(&c.EgressProfile, "egress-cpuprofile", "", "write the CPU profile of the egress run (the one its breakdown by component is read from) to this file")
	memProfile := fs.String("memprofile", "", "write a heap profile at the end of the run to this file")
	memLimit := fs.Int64("memory-limit", benchMemoryLimit, "base soft memory limit of the bench process in bytes: the all-in-one's default plus room for the connector and agent it also hosts; it follows the live heap as the all-in-one's does (GOMEMLIMIT overrides, 0 disables)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *memLimit > 0 {
		// The same policy as the all-in-one's, from a base with room for the
		// connector and agent this process also hosts.
		gctx, stop := context.WithCancel(ctx)
		governed := make(chan struct{})
		go func() {
			defer close(governed)
			_ = memlimit.Govern(gctx, getenv, *memLimit, 5*time.Second, slog.New(slog.DiscardHandler))
		}()
		defer func() {
			stop()
			<-governed
		}()
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if c.Inbound < 1000 || c.Egress < 1000 || c.Rate < 1 {
		return errors.New("bench: --inbound and --egress want at least 1000, --rate at least 1")
	}
	progress := func(format string, a ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", a...) }
	c.MemProfile = *memProfile
	run := bench
	if c.AllInOne {
		if c.Soak <= 0 {
			return errNoChild
		}
		run = benchAllInOne
	}
	rep, err := run(ctx, c, progress)
	if err != nil {
		return err
	}

	if c.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printBench(stdout, rep)
	}
	if rep.Lost != 0 || rep.DuplicatedEvents != 0 {
		return fmt.Errorf("bench: lost %d, duplicated %d events", rep.Lost, rep.DuplicatedEvents)
	}
	if rep.SoakVerdict != "" && !strings.HasPrefix(rep.SoakVerdict, "ok") {
		return fmt.Errorf("bench: soak: %s", rep.SoakVerdict)
	}
	return nil
}

func printBench(w io.Writer, r *benchReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if r.Inbound == 0 { // --allinone: a soak only
		fmt.Fprintf(tw, "relay bench --allinone\t%d CPUs\t%s\t\n", r.Machine.CPUs, r.Machine.GoVersion)
		fmt.Fprintf(tw, "peak RSS (all-in-one process)\t%.1f MB\t\t\n", float64(r.PeakRSSBytes)/1e6)
		fmt.Fprintf(tw, "lost / duplicated events\t%d / %d\t\t\n", r.Lost, r.DuplicatedEvents)
		tw.Flush()
		printSoak(w, r)
		return
	}
	fmt.Fprintf(w, "relay bench: %d CPUs, %s, %s JetStream, %d partitions, %d converters, %d egress\n", r.Machine.CPUs, r.Machine.GoVersion, r.Storage, r.Partitions, r.Converters, r.Egresses)
	fmt.Fprintf(tw, "path\tmsgs/s\tCPU µs/msg\tceiling msgs/s\tceiling CPU µs/msg\tratio\t\n")
	fmt.Fprintf(tw, "inbound (WS frame -> agent), %d msgs; ceiling: two durable hops\t%.0f\t%.1f\t%.0f\t%.1f\t%.2f\t\n",
		r.InboundMessages, r.Inbound, r.InboundCPU, r.InboundCeiling, r.InboundCeilingCPU, r.InboundRatio)
	fmt.Fprintf(tw, "egress (relay.outbound.send -> WS frame), %d msgs; ceiling: a hop and a result write\t%.0f\t%.1f\t%.0f\t%.1f\t%.2f\t\n",
		r.EgressMessages, r.Egress, r.EgressCPU, r.EgressCeiling, r.EgressCeilingCPU, r.EgressRatio)
	fmt.Fprintf(tw, "one durable hop (ws-edge's pattern alone)\t\t\t%.0f\t\t\t\n", r.InboundOneHopCeiling)
	tw.Flush()
	if len(r.InboundCPUByComponent) > 0 {
		fmt.Fprintf(w, "inbound CPU µs per interaction by component (profile): %s; relaybus (ws-edge + converter + agent) %.0f\n",
			componentList(r.InboundCPUByComponent), r.RelayCPU)
	}
	if len(r.EgressCPUByComponent) > 0 {
		fmt.Fprintf(w, "egress CPU µs per send by component (profile): %s\n", componentList(r.EgressCPUByComponent))
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "latency at %d/s offered, %d samples\tp50 %v\tp90 %v\tp99 %v\tmax %v\t\n", r.LatencyRate, r.LatencyCount,
		r.LatencyP50.Round(time.Microsecond), r.LatencyP90.Round(time.Microsecond), r.LatencyP99.Round(time.Microsecond), r.LatencyMax.Round(time.Microsecond))
	fmt.Fprintf(tw, "raw JetStream p99 at the same rate\t%v\t\t\t\n", r.CeilingLatencyP99.Round(time.Microsecond))
	for _, h := range latencyHops {
		if p99, ok := r.LatencyHopP99[h]; ok {
			fmt.Fprintf(tw, "  hop %s\tp50 %v\t\tp99 %v\t\t\n", h, r.LatencyHopP50[h].Round(time.Microsecond), p99.Round(time.Microsecond))
		}
	}
	fmt.Fprintf(tw, "peak RSS (whole bench process)\t%.1f MB\t\t\t\n", float64(r.PeakRSSBytes)/1e6)
	fmt.Fprintf(tw, "lost / duplicated events\t%d / %d\t\t\t\n", r.Lost, r.DuplicatedEvents)
	tw.Flush()
	printSoak(w, r)
}

func printSoak(w io.Writer, r *benchReport) {
	if len(r.Soak) > 0 {
		fmt.Fprintf(w, "\nsoak (%s)\n", r.SoakProcess)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "t\tRSS MB\theap MB\tgoroutines\tdelivered\t\n")
		for _, s := range r.Soak {
			fmt.Fprintf(tw, "%v\t%.1f\t%.1f\t%d\t%d\t\n", s.At.Round(time.Second), float64(s.RSSBytes)/1e6, float64(s.HeapBytes)/1e6, s.Goroutines, s.Delivered)
		}
		tw.Flush()
		fmt.Fprintf(w, "soak verdict: %s\n", r.SoakVerdict)
	}
}

// benchBodies prepares the fixtures as connector-sanitized bodies (token
// removed) with a placeholder for the interaction id, so that every frame
// carries a unique id the agent side can match.
type benchBodies struct {
	templates [][]byte
}

const (
	idPlaceholder   = "__RELAY_BENCH_ID__"
	chatPlaceholder = "__RELAY_BENCH_CHAT__"
)

// loadBodies prepares the contract's Discord fixtures (fixtures.Contract)
// as realistic passthrough bodies, leaving out the PING, which the
// connector answers itself.
func loadBodies() (*benchBodies, error) {
	b := &benchBodies{}
	for _, name := range fixtures.Contract {
		raw, err := fixtures.ReadDiscord(name)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if m["type"] == float64(1) {
			continue // PING
		}
		delete(m, "token")
		m["id"] = idPlaceholder
		// Many chats, as a bot serves: each interaction goes to one of
		// benchChats channels (per-chat order serializes one chat).
		if _, ok := m["channel_id"]; ok {
			m["channel_id"] = chatPlaceholder
		}
		if ch, ok := m["channel"].(map[string]any); ok {
			ch["id"] = chatPlaceholder
		}
		t, _ := json.Marshal(m)
		b.templates = append(b.templates, t)
	}
	return b, nil
}

// frame returns the passthrough_forward frame fields for interaction n.
// emitter returns a function that makes dev forward interaction n.
func (b *benchBodies) emitter(dev *devconnector.Server) func(n uint64) {
	return func(n uint64) {
		dev.Emit(wire.FramePassthroughForward, map[string]any{"forward": b.forward(n)})
	}
}

func (b *benchBodies) forward(n uint64) map[string]any {
	// A chat keeps one template (a channel is a DM or a guild channel for
	// good; mixing them would rewrite its scope record on every message).
	chat := n % benchChats
	body := bytes.Replace(b.templates[chat%uint64(len(b.templates))], []byte(idPlaceholder), []byte(strconv.FormatUint(benchIDBase+n, 10)), 1)
	body = bytes.ReplaceAll(body, []byte(chatPlaceholder), []byte(strconv.FormatUint(benchChatBase+chat, 10)))
	return map[string]any{
		"platform": "discord", "botId": "bench", "method": "POST", "path": "/interactions/discord/bench",
		"headers": [][]string{{"content-type", "application/json"}},
		"bodyB64": base64.StdEncoding.EncodeToString(body),
	}
}

// benchIDBase is a snowflake of 2026, so ids decode to a plausible time;
// benchChatBase the first of the bench's channel ids.
const (
	benchIDBase   = 1_450_000_000_000_000_000
	benchChatBase = 1_440_000_000_000_000_000
)

// frameBytes renders the whole frame (for the latency ceiling).
func (b *benchBodies) frameBytes(n uint64) []byte {
	return devconnector.AppendFrame(nil, wire.FramePassthroughForward, "c-"+strconv.FormatUint(n, 10), b.members(n))
}

// members renders interaction n's frame fields as a JSON object.
func (b *benchBodies) members(n uint64) []byte {
	m, _ := json.Marshal(map[string]any{"forward": b.forward(n)})
	return m
}

// prebuild renders the fields of interactions base..base+n-1.
func (b *benchBodies) prebuild(base uint64, n int) [][]byte {
	pre := make([][]byte, n)
	for i := range pre {
		pre[i] = b.members(base + uint64(i))
	}
	return pre
}

// relayComponents are relaybus's own part of an interaction's CPU: the
// stages on the inbound path and the agent client.
var relayComponents = []string{"ws-edge", "converter", compAgent}

// micros is d in microseconds, to two decimals.
func micros(d time.Duration) float64 { return math.Round(float64(d)/10) / 100 }

// rig is what both benches set up: the bodies, a temp dir for a store,
// and a dev connector on a loopback port whose replay buffer holds replay
// frames.
type rig struct {
	bodies *benchBodies
	dir    string
	dev    *devconnector.Server
}

func newRig(dirPrefix string, replay int) (*rig, error) {
	bodies, err := loadBodies()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, err
	}
	dev, err := devconnector.New(devconnector.Config{Addr: "127.0.0.1:0", Log: slog.New(slog.DiscardHandler), ReplayLimit: replay})
	if err == nil {
		// Its goroutines (the gateway socket's reader and writer among
		// them) inherit the label: the connector's part of the breakdown.
		labelled(compConnector, func() { err = dev.Start() })
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &rig{bodies: bodies, dir: dir, dev: dev}, nil
}

func (r *rig) close() {
	r.dev.Close()
	os.RemoveAll(r.dir)
}

func bench(ctx context.Context, c benchConfig, progress func(string, ...any)) (*benchReport, error) {
	rep := &benchReport{Storage: c.Storage}
	storage := jetstream.FileStorage
	switch c.Storage {
	case "file":
	case "memory":
		storage = jetstream.MemoryStorage
	default:
		return nil, fmt.Errorf("bench: --storage=%q: want file or memory", c.Storage)
	}
	rep.Machine.CPUs = runtime.NumCPU()
	rep.Machine.GoVersion = runtime.Version()
	// The pipeline: the stack on an in-process server, ws-edge dialing a
	// dev connector here. The replay buffer holds what the gateway has not
	// acked yet; size it for the largest backlog a run can build (a soak
	// that falls behind).
	r, err := newRig("relay-bench-", max(4*c.Inbound, 200_000))
	if err != nil {
		return nil, err
	}
	defer r.close()
	bodies, dir, dev := r.bodies, r.dir, r.dev
	stages, err := stack.StagesFromEnv(func(k string) string {
		switch k {
		case "GATEWAY_RELAY_URL":
			return dev.URL()
		case "GATEWAY_RELAY_PLATFORMS":
			return "discord"
		case "RELAY_DUPLICATE_WINDOW":
			return c.DupWindow.String()
		case "RELAY_STREAM_STORAGE":
			return c.Storage
		case "CONVERTER_WORKERS", "EGRESS_WORKERS", "RELAY_INBOUND_MAX_BYTES", "RELAY_PARTITIONS",
			"RELAY_RAW_DUPLICATE_WINDOW", "RELAY_OUTBOUND_DUPLICATE_WINDOW":
			return os.Getenv(k) // tuning experiments: relay bench honours these
		}
		return ""
	})
	if err != nil {
		return nil, err
	}
	rep.Partitions = stages.Converter.Bus.Partitions
	pipeline, err := stack.Start(ctx, stack.Config{Stages: stages, NATS: natsembed.Config{DontListen: true, StoreDir: dir, ServerName: "bench"}})
	if err != nil {
		return nil, err
	}
	defer pipeline.Stop()
	if err := waitFor(ctx, 30*time.Second, func() bool { return pipeline.Ready(ctx) == nil }); err != nil {
		return nil, fmt.Errorf("pipeline not ready: %v", pipeline.Ready(ctx))
	}
	// Each part of the process on its own connection, opened under its
	// profile label (the CPU breakdown).
	connect := func(component, name string) (js jetstream.JetStream, err error) {
		labelled(component, func() {
			var nc *nats.Conn
			if nc, err = pipeline.Connect(name); err == nil {
				js, err = jetstream.New(nc)
			}
		})
		return js, err
	}
	js, err := connect(compDriver, "bench-driver")
	if err != nil {
		return nil, err
	}
	relayJS, err := connect(compDriver, "bench-ceiling-relay")
	if err != nil {
		return nil, err
	}
	agentJS, err := connect(compAgent, "bench-agent")
	if err != nil {
		return nil, err
	}

	// The agent: a durable pull consumer on RELAY_INBOUND, acking each event.
	var agent *benchAgent
	labelled(compAgent, func() { agent, err = newBenchAgent(ctx, agentJS) })
	if err != nil {
		return nil, err
	}
	defer agent.stop()

	// Scale-out: extra replicas of the converter and egress, then a
	// warm-up until the partitions are spread over them.
	rep.Converters, rep.Egresses = max(c.Converters, 1), max(c.Egresses, 1)
	stopReplicas, holders, err := startReplicas(ctx, pipeline, stages, rep.Converters-1, rep.Egresses-1)
	if err != nil {
		return nil, err
	}
	defer stopReplicas()
	var seq atomic.Uint64
	emit := bodies.emitter(dev)
	if rep.Converters > 1 {
		progress("warm-up: spreading %d partitions over %d converters", rep.Partitions, rep.Converters)
		push := func() error {
			for range 500 {
				emit(seq.Add(1) - 1)
			}
			return agent.waitCount(ctx, int64(seq.Load()), time.Minute)
		}
		if err := spread(push, holders.converters, rep.Partitions); err != nil {
			return nil, err
		}
	}

	// The inbound run's frames, built before any clock starts: the
	// ceilings publish the same frames.
	base := seq.Load()
	progress("building %d frames", c.Inbound)
	pre := bodies.prebuild(base, c.Inbound)
	frame := func(i uint64) []byte {
		return devconnector.AppendFrame(nil, wire.FramePassthroughForward, "c-"+strconv.FormatUint(i, 10), pre[i])
	}

	// 1. The ceilings, on the same server while the stages idle: the same
	// frames, the same async window and de-duplication ids, no relay logic
	// (ceiling.go).
	progress("JetStream ceilings: one hop and two hops, %d frames", c.Inbound)
	// The ceilings keep the de-duplication ids as long as the work
	// streams they stand for: the server windows, not the horizon.
	inWindow, outWindow := stages.Edge.Bus.RawDuplicateWindow, stages.Egress.Bus.OutboundDuplicateWindow
	one, err := oneHopCeiling(ctx, js, storage, c.Inbound, inWindow, frame)
	if err != nil {
		return nil, fmt.Errorf("one-hop ceiling: %w", err)
	}
	two, err := twoHopCeiling(ctx, js, relayJS, storage, c.Inbound, inWindow, frame)
	if err != nil {
		return nil, fmt.Errorf("two-hop ceiling: %w", err)
	}
	rep.InboundOneHopCeiling = one.Rate
	rep.InboundCeiling, rep.InboundCeilingCPU = two.Rate, micros(two.CPUPerMsg)

	// 2. Inbound: the connector writes the pre-built frames as fast as
	// ws-edge takes them; the CPU of the run, by component.
	progress("inbound, %d interactions", c.Inbound)
	cpu0, start := processCPU(), time.Now()
	comps, err := profileComponents(c.InboundProfile, func() error {
		labelled(compConnector, func() {
			go func() {
				for i := 0; i < c.Inbound && ctx.Err() == nil; i++ {
					_, _ = dev.EmitJSON(wire.FramePassthroughForward, pre[i])
				}
			}()
		})
		return agent.waitCount(ctx, int64(base)+int64(c.Inbound), 5*time.Minute)
	})
	if err != nil {
		return nil, fmt.Errorf("inbound: %w", err)
	}
	elapsed, cpu := time.Since(start), processCPU()-cpu0
	seq.Add(uint64(c.Inbound))
	pre = nil
	rep.Inbound = float64(c.Inbound) / elapsed.Seconds()
	rep.InboundMessages = c.Inbound
	rep.InboundRatio = rep.Inbound / rep.InboundCeiling
	rep.InboundCPU = micros(cpu / time.Duration(c.Inbound))
	if comps != nil {
		rep.InboundCPUByComponent = map[string]float64{}
		for k, v := range comps {
			rep.InboundCPUByComponent[k] = micros(v / time.Duration(c.Inbound))
		}
		for _, k := range relayComponents {
			rep.RelayCPU += rep.InboundCPUByComponent[k]
		}
	}

	// 3. Latency at a fixed offered rate, with frames built before the
	// clock as for the inbound run: built while pacing, they allocated
	// ≈ 12 KB per interaction (17 % of the run's allocation) and so added
	// garbage collections of the bench's own to the relay's latency.
	progress("latency, %d/s for %v", c.Rate, c.LatencyFor)
	lbase := seq.Load()
	lpre := bodies.prebuild(lbase, latencyTotal(c.Rate, c.LatencyFor))
	// latencyRun emits exactly latencyTotal interactions, numbered on
	// from lbase: nothing else emits meanwhile.
	emitPre := func(n uint64) { _, _ = dev.EmitJSON(wire.FramePassthroughForward, lpre[n-lbase]) }
	stopTrace, err := startTrace(c.LatencyTrace)
	if err != nil {
		return nil, err
	}
	lat, hops, err := latencyRun(ctx, c.Rate, c.LatencyFor, &seq, agent, emitPre)
	lpre = nil
	if terr := stopTrace(); err == nil {
		err = terr
	}
	if err != nil {
		return nil, fmt.Errorf("latency: %w", err)
	}
	rep.LatencyRate, rep.LatencyCount = c.Rate, len(lat)
	rep.LatencyP50, rep.LatencyP90, rep.LatencyP99, rep.LatencyMax = pct(lat, 50), pct(lat, 90), pct(lat, 99), pct(lat, 100)
	if len(hops) > 0 {
		rep.LatencyHopP50, rep.LatencyHopP99 = map[string]time.Duration{}, map[string]time.Duration{}
		for h, d := range hops {
			rep.LatencyHopP50[h], rep.LatencyHopP99[h] = pct(d, 50), pct(d, 99)
		}
	}
	ceilLat, err := ceilingLatency(ctx, js, storage, c.Rate, c.LatencyFor, bodies.frameBytes)
	if err != nil {
		return nil, fmt.Errorf("ceiling latency: %w", err)
	}
	rep.CeilingLatencyP99 = pct(ceilLat, 99)

	// Every interaction arrived exactly once?
	total := seq.Load()
	rep.Lost, rep.DuplicatedEvents = agent.check(total)

	// 4. Egress: replies spread over benchChats guild chats whose scope
	// records are in relay_scope (as the converter writes them), so egress
	// serves them from its watcher-fed cache.
	progress("egress ceiling and egress, %d sends over %d chats", c.Egress, benchChats)
	if err := writeScopes(ctx, js, benchChats); err != nil {
		return nil, err
	}
	action := func(n uint64) []byte {
		a := events.Action{Op: events.OpSend, ChatID: "bench-chat-" + strconv.FormatUint(n%benchChats, 10), Content: "reply " + strconv.FormatUint(n, 10)}
		b, _ := events.Marshal(a, events.ContentTypeMsgpack)
		return b
	}
	eg, err := hopAndResultCeiling(ctx, js, relayJS, storage, c.Egress, outWindow, action)
	if err != nil {
		return nil, fmt.Errorf("egress ceiling: %w", err)
	}
	rep.EgressCeiling, rep.EgressCeilingCPU = eg.Rate, micros(eg.CPUPerMsg)
	chatOf := func(n uint64) string { return "bench-chat-" + strconv.FormatUint(n%benchChats, 10) }
	if rep.Egresses > 1 {
		progress("warm-up: spreading %d partitions over %d egress replicas", rep.Partitions, rep.Egresses)
		var warm uint64
		push := func() error {
			before := dev.State().OutboundCount
			for range 500 {
				m := nats.NewMsg(events.OutboundChatSubject(events.OpSend, chatOf(warm)))
				m.Header.Set(events.ChatHeader, events.SubjectToken(chatOf(warm)))
				m.Header.Set(events.MsgIDHeader, "warm-"+strconv.FormatUint(warm, 10))
				m.Header.Set(events.ContentTypeHeader, events.ContentTypeMsgpack)
				m.Data = action(warm)
				warm++
				if _, err := js.PublishMsgAsync(m, benchStall); err != nil {
					return err
				}
			}
			<-js.PublishAsyncComplete()
			return waitFor(ctx, time.Minute, func() bool { return dev.State().OutboundCount-before >= 500 })
		}
		if err := spread(push, holders.egresses, rep.Partitions); err != nil {
			return nil, err
		}
	}
	actions := make([][]byte, c.Egress)
	for i := range actions {
		actions[i] = action(uint64(i))
	}
	before := dev.State().OutboundCount
	cpu0, start = processCPU(), time.Now()
	comps, err = profileComponents(c.EgressProfile, func() error {
		if err := publishActions(ctx, js, c.Egress, func(i uint64) []byte { return actions[i] }, chatOf); err != nil {
			return err
		}
		if err := waitFor(ctx, 5*time.Minute, func() bool { return dev.State().OutboundCount-before >= uint64(c.Egress) }); err != nil {
			return fmt.Errorf("egress: %d of %d sends reached the connector: %w", dev.State().OutboundCount-before, c.Egress, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rep.Egress = float64(c.Egress) / time.Since(start).Seconds()
	rep.EgressCPU = micros((processCPU() - cpu0) / time.Duration(c.Egress))
	if comps != nil {
		rep.EgressCPUByComponent = map[string]float64{}
		for k, v := range comps {
			rep.EgressCPUByComponent[k] = micros(v / time.Duration(c.Egress))
		}
	}
	rep.EgressMessages = c.Egress
	rep.EgressRatio = rep.Egress / rep.EgressCeiling

	// 5. Soak.
	if c.Soak > 0 {
		progress("soak at %d/s for %v", c.SoakRate, c.Soak)
		sample := func() soakSample {
			m, _ := ops.Gather(pipeline.Registry())
			return sampleOf(m)
		}
		rep.Soak, rep.SoakVerdict = soak(ctx, c.SoakRate, c.Soak, &seq, agent, emit, sample)
		rep.SoakProcess = "whole bench process"
	}
	rep.PeakRSSBytes = peakRSS(os.Getpid())
	if c.MemProfile != "" {
		// While everything is still running: what the pipeline holds.
		runtime.GC()
		f, err := os.Create(c.MemProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// benchChats is how many chats the egress run replies to: a bot serves many
// chats, and egress keeps each chat's replies in order on one worker.
const benchChats = 1000

// benchMemoryLimit is the bench process's base soft memory limit: 192 MiB,
// the all-in-one's default of sessions 1–7 (128 MiB) plus room for the
// connector and agent it also hosts. Kept apart from memlimit.Default so
// that the throughput runs stay comparable across sessions.
const benchMemoryLimit = 192 << 20

// writeScopes stores scope records for the bench chats the way the
// converter does.
func writeScopes(ctx context.Context, js jetstream.JetStream, n int) error {
	kv, err := js.KeyValue(ctx, events.ScopeBucket)
	if err != nil {
		return err
	}
	for i := range n {
		chat := "bench-chat-" + strconv.Itoa(i)
		b, err := events.Marshal(events.Scope{ScopeID: "bench-guild", UserID: "bench-user", Platform: "discord", ChatType: events.ChatGroup}, events.ContentTypeMsgpack)
		if err != nil {
			return err
		}
		if _, err := kv.Put(ctx, events.ScopeKey("discord", chat), b); err != nil {
			return err
		}
	}
	return nil
}

func waitFor(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// ceilingLatency measures raw publish -> consume latency at the offered rate.
func ceilingLatency(ctx context.Context, js jetstream.JetStream, storage jetstream.StorageType, rate int, d time.Duration, payload func(uint64) []byte) ([]time.Duration, error) {
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "BENCH_LAT", Subjects: []string{"bench.lat"}, Storage: storage, Retention: jetstream.WorkQueuePolicy})
	if err != nil {
		return nil, err
	}
	defer js.DeleteStream(context.WithoutCancel(ctx), "BENCH_LAT")
	cons, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	sent := map[string]time.Time{}
	var lat []time.Duration
	cc, err := cons.Consume(func(m jetstream.Msg) {
		now := time.Now()
		_ = m.Ack()
		mu.Lock()
		if t, ok := sent[m.Headers().Get(events.MsgIDHeader)]; ok {
			lat = append(lat, now.Sub(t))
		}
		mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	defer cc.Stop()
	total := int(float64(rate) * d.Seconds())
	err = pace(ctx, rate, total, func(i uint64) error {
		m := nats.NewMsg("bench.lat")
		m.Data = payload(i)
		id := "l" + strconv.FormatUint(i, 10)
		m.Header.Set(events.MsgIDHeader, id)
		mu.Lock()
		sent[id] = time.Now()
		mu.Unlock()
		_, err := js.PublishMsgAsync(m, benchStall)
		return err
	})
	if err != nil {
		return nil, err
	}
	err = waitFor(ctx, 30*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(lat) >= total })
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(lat), err
}

// pace calls fn total times at rate per second.
func pace(ctx context.Context, rate, total int, fn func(uint64) error) error {
	start := time.Now()
	interval := time.Second / time.Duration(rate)
	for i := range total {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(d):
			}
		}
		if err := fn(uint64(i)); err != nil {
			return err
		}
	}
	return nil
}

func publishActions(ctx context.Context, js jetstream.JetStream, n int, payload func(uint64) []byte, chat func(uint64) string) error {
	return publishEach(ctx, js, n, func(i uint64) *nats.Msg {
		m := nats.NewMsg(events.OutboundChatSubject(events.OpSend, chat(i)))
		m.Header.Set(events.ChatHeader, events.SubjectToken(chat(i)))
		m.Data = payload(i)
		m.Header.Set(events.ContentTypeHeader, events.ContentTypeMsgpack)
		m.Header.Set(events.MsgIDHeader, "bench-"+strconv.FormatUint(i, 10))
		return m
	})
}

// benchAgent stands in for agents: a durable consumer on RELAY_INBOUND that
// acks every event, counts them by interaction id and timestamps arrivals.
type benchAgent struct {
	cc    jetstream.ConsumeContext
	count atomic.Int64
	mu    sync.Mutex
	// seen counts arrivals per interaction number (ids are dense from
	// benchIDBase), one byte each, saturating: a map here grew by tens of
	// MB over a soak and showed up as the bench's own RSS growth.
	seen []uint8
	// arrivals is set during a latency run: id -> its times.
	arrivals map[uint64]arrival
}

func newBenchAgent(ctx context.Context, js jetstream.JetStream) (*benchAgent, error) {
	cons, err := js.CreateOrUpdateConsumer(ctx, events.InboundStream, jetstream.ConsumerConfig{
		Durable: "bench-agent", AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: events.InboundMessageSubjects, MaxAckPending: 8192,
	})
	if err != nil {
		return nil, err
	}
	a := &benchAgent{}
	a.cc, err = cons.Consume(func(m jetstream.Msg) {
		now := time.Now()
		var ev events.MessageEvent
		err := events.Unmarshal(m.Data(), m.Headers().Get(events.ContentTypeHeader), &ev)
		_ = m.Ack()
		if err != nil {
			return
		}
		id, _ := strconv.ParseUint(ev.MessageID, 10, 64)
		n := id - benchIDBase
		if id < benchIDBase || n >= 1<<32 {
			return // not one of ours
		}
		a.mu.Lock()
		if n >= uint64(len(a.seen)) {
			a.seen = append(a.seen, make([]uint8, n+1-uint64(len(a.seen))+uint64(len(a.seen)/2))...)
		}
		if a.seen[n] < 255 {
			a.seen[n]++
		}
		if a.arrivals != nil {
			a.arrivals[n] = arrivalOf(m, now)
		}
		a.mu.Unlock()
		a.count.Add(1)
	}, jetstream.PullMaxMessages(1024))
	if err != nil {
		return nil, err
	}
	return a, nil
}

func (a *benchAgent) stop() { a.cc.Stop() }

func (a *benchAgent) waitCount(ctx context.Context, n int64, timeout time.Duration) error {
	err := waitFor(ctx, timeout, func() bool { return a.count.Load() >= n })
	if err != nil {
		return fmt.Errorf("%d of %d events arrived: %w", a.count.Load(), n, err)
	}
	return nil
}

// check counts interactions 0..total-1 that never arrived or arrived twice.
func (a *benchAgent) check(total uint64) (lost, dup int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range total {
		var c int
		if i < uint64(len(a.seen)) {
			c = int(a.seen[i])
		}
		switch {
		case c == 0:
			lost++
		case c > 1:
			dup += c - 1
		}
	}
	return lost, dup
}

// arrival is when an interaction's event reached the bench agent, and
// when its frame and its event were stored (zero when unknown).
type arrival struct {
	at, rawStored, eventStored time.Time
}

// latencyHops are the hops of LatencyHopP50/P99, in pipeline order.
var latencyHops = []string{"ws-edge", "converter", "agent"}

func arrivalOf(m jetstream.Msg, now time.Time) arrival {
	a := arrival{at: now}
	if md, err := m.Metadata(); err == nil {
		a.eventStored = md.Timestamp
	}
	if v := m.Headers().Get(events.RawStoredAtHeader); v != "" {
		a.rawStored, _ = time.Parse(time.RFC3339Nano, v)
	}
	return a
}

// latencyTotal is how many interactions a latency run of d at rate offers.
func latencyTotal(rate int, d time.Duration) int { return int(float64(rate) * d.Seconds()) }

// latencyRun offers rate interactions a second for d and returns each
// one's latency (connector write to handled by the agent) and, where the
// store times are known, each hop's (latencyHops).
func latencyRun(ctx context.Context, rate int, d time.Duration, seq *atomic.Uint64, a *benchAgent, emit func(uint64)) ([]time.Duration, map[string][]time.Duration, error) {
	total := latencyTotal(rate, d)
	sent := make(map[uint64]time.Time, total)
	a.mu.Lock()
	a.arrivals = make(map[uint64]arrival, total)
	a.mu.Unlock()
	before := a.count.Load()
	var smu sync.Mutex
	err := pace(ctx, rate, total, func(uint64) error {
		n := seq.Add(1) - 1
		smu.Lock()
		sent[n] = time.Now()
		smu.Unlock()
		emit(n)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if err := a.waitCount(ctx, before+int64(total), time.Minute); err != nil {
		return nil, nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	lat := make([]time.Duration, 0, total)
	hops := map[string][]time.Duration{}
	for id, t := range sent {
		ar, ok := a.arrivals[id]
		if !ok {
			continue
		}
		lat = append(lat, ar.at.Sub(t))
		if !ar.rawStored.IsZero() && !ar.eventStored.IsZero() {
			hops["ws-edge"] = append(hops["ws-edge"], ar.rawStored.Sub(t))
			hops["converter"] = append(hops["converter"], ar.eventStored.Sub(ar.rawStored))
			hops["agent"] = append(hops["agent"], ar.at.Sub(ar.eventStored))
		}
	}
	a.arrivals = nil
	return lat, hops, nil
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}

// slopePerMinute is the least-squares slope of f over the samples, per
// minute: RSS that keeps rising shows here even when it stays under the
// verdict's growth threshold (a de-duplication window still filling, say).
func slopePerMinute(s []soakSample, f func(soakSample) float64) float64 {
	if len(s) < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for _, x := range s {
		t := x.At.Minutes()
		y := f(x)
		sx, sy, sxx, sxy = sx+t, sy+y, sxx+t*t, sxy+t*y
	}
	n := float64(len(s))
	den := n*sxx - sx*sx
	if den == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / den
}

// sampleOf is a soak sample of a process from its own metrics: RSS from
// process_resident_memory_bytes, goroutines and heap in use from the Go
// collector's go_goroutines and go_memstats_heap_inuse_bytes (0 for any
// that is missing).
func sampleOf(m ops.Metrics) soakSample {
	return soakSample{
		RSSBytes:   int64(m.Sum("process_resident_memory_bytes")),
		Goroutines: int(m.Sum("go_goroutines")),
		HeapBytes:  uint64(m.Sum("go_memstats_heap_inuse_bytes")),
	}
}

// soak offers rate interactions/s for d through emit, sampling with sample
// (RSS, heap, goroutines of the process under test) every tenth of the run,
// and judges the samples, the first third being warm-up: RSS or goroutines
// well above the second third's in the last third (unbounded growth), or
// deliveries falling behind the offered rate, fail it.
func soak(ctx context.Context, rate int, d time.Duration, seq *atomic.Uint64, a *benchAgent, emit func(uint64), sample func() soakSample) ([]soakSample, string) {
	start := time.Now()
	sctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- pace(sctx, rate, int(float64(rate)*d.Seconds()), func(uint64) error { emit(seq.Add(1) - 1); return nil })
	}()
	var samples []soakSample
	tick := time.NewTicker(d / 10)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			s := sample()
			s.At, s.Delivered = time.Since(start), a.count.Load()
			samples = append(samples, s)
			continue
		case <-done:
		}
		break
	}
	if len(samples) < 6 {
		return samples, "ok (too short to judge growth)"
	}
	third := len(samples) / 3
	avg := func(s []soakSample, f func(soakSample) float64) float64 {
		var t float64
		for _, x := range s {
			t += f(x)
		}
		return t / float64(len(s))
	}
	mid, last := samples[third:2*third], samples[2*third:]
	// Keeping up: over the last third, deliveries must match the offered
	// rate (a growing backlog is unbounded growth too, just on disk).
	if first, end := last[0], last[len(last)-1]; end.At > first.At {
		got := float64(end.Delivered-first.Delivered) / (end.At - first.At).Seconds()
		if got < 0.9*float64(rate) {
			return samples, fmt.Sprintf("falls behind: %.0f/s delivered over the last third, %d/s offered", got, rate)
		}
	}
	rss := func(s soakSample) float64 { return float64(s.RSSBytes) }
	gor := func(s soakSample) float64 { return float64(s.Goroutines) }
	if avg(last, rss) > avg(mid, rss)*1.25+20e6 {
		return samples, fmt.Sprintf("RSS grows: %.1f MB -> %.1f MB", avg(mid, rss)/1e6, avg(last, rss)/1e6)
	}
	if avg(last, gor) > avg(mid, gor)*1.25+50 {
		return samples, fmt.Sprintf("goroutines grow: %.0f -> %.0f", avg(mid, gor), avg(last, gor))
	}
	trend := "" // a per-minute slope of a few seconds is noise
	if tail := samples[third:]; tail[len(tail)-1].At-tail[0].At >= time.Minute {
		trend = fmt.Sprintf(", trend %+.1f MB/min over the last two thirds", slopePerMinute(tail, rss)/1e6)
	}
	return samples, fmt.Sprintf("ok (RSS %.1f -> %.1f MB%s; goroutines %.0f -> %.0f)",
		avg(mid, rss)/1e6, avg(last, rss)/1e6, trend, avg(mid, gor), avg(last, gor))
}

// peakRSS is the peak resident set size (VmHWM) of process pid in bytes,
// 0 where /proc is not available.
func peakRSS(pid int) int64 {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0
	}
	st, err := p.NewStatus()
	if err != nil {
		return 0
	}
	return int64(st.VmHWM)
}

// benchStall is how long a bench publisher waits for room among its
// asynchronous publishes in flight: a loaded machine must slow the bench
// down, not fail it.
var benchStall = jetstream.WithStallWait(time.Minute)

// componentList prints a breakdown by component, by name.
func componentList(by map[string]float64) string {
	keys := slices.Sorted(maps.Keys(by))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, by[k]))
	}
	return strings.Join(parts, ", ")
}

// startTrace starts an execution trace into file ("": none) and returns
// the function that stops it and closes the file.
func startTrace(file string) (stop func() error, err error) {
	if file == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := trace.Start(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() error {
		trace.Stop()
		return f.Close()
	}, nil
}
