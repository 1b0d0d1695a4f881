package bench

import (
	"bytes"
	"context"
	"os"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/google/pprof/profile"

	"github.com/relaybus/relaybus/internal/stage"
)

// componentLabel is the pprof label naming the part of the process a
// goroutine works for: each stage's goroutines carry it (stage.Host.Run
// sets it to the stage's name), and the bench labels its connector, agent
// and driver. Goroutines inherit labels from the goroutine that starts
// them, so a connection opened under a label reads and flushes under it.
const componentLabel = stage.ProfileLabel

// The components of the breakdown besides the stages' names.
const (
	compServer    = "nats-server"
	compConnector = "connector" // the dev connector, writing the frames
	compAgent     = "agent"     // the bench's agent: decode, count, ack
	compDriver    = "driver"    // the bench's own publishing
	compRuntime   = "runtime"   // GC workers, scheduler: shared
	compOther     = "other"
)

// labelled runs fn with the component label set; what it starts inherits
// the label.
func labelled(component string, fn func()) {
	pprof.Do(context.Background(), pprof.Labels(componentLabel, component), func(context.Context) { fn() })
}

// processCPU returns the user and system CPU time this process used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// profileComponents runs fn under the CPU profiler and returns the CPU
// time the profile attributes to each component; the profile is also
// written to file unless that is "". It returns nil (and still runs fn)
// when a profile is already running (--cpuprofile).
func profileComponents(file string, fn func() error) (map[string]time.Duration, error) {
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		return nil, fn()
	}
	err := fn()
	pprof.StopCPUProfile()
	if err != nil {
		return nil, err
	}
	if file != "" {
		if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
			return nil, err
		}
	}
	p, err := profile.Parse(&buf)
	if err != nil {
		return nil, err
	}
	return byComponent(p), nil
}

// byComponent sums a CPU profile's samples by component: anything with
// nats-server code on its stack is the server's (its in-process client
// goroutines inherit the label of whoever connected), then the label,
// then the Go runtime's own goroutines.
func byComponent(p *profile.Profile) map[string]time.Duration {
	vi := len(p.SampleType) - 1 // "cpu" nanoseconds is the last
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			vi = i
		}
	}
	out := map[string]time.Duration{}
	for _, s := range p.Sample {
		out[sampleComponent(s)] += time.Duration(s.Value[vi])
	}
	return out
}

func sampleComponent(s *profile.Sample) string {
	runtimeOnly := true
	for _, loc := range s.Location {
		for _, ln := range loc.Line {
			if ln.Function == nil {
				continue
			}
			name := ln.Function.Name
			if strings.HasPrefix(name, "github.com/nats-io/nats-server/") {
				return compServer
			}
			if !strings.HasPrefix(name, "runtime.") && !strings.HasPrefix(name, "runtime/") {
				runtimeOnly = false
			}
		}
	}
	if v := s.Label[componentLabel]; len(v) > 0 {
		return v[0]
	}
	if runtimeOnly {
		return compRuntime
	}
	return compOther
}
