package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/pkg/events"
)

// WorkStream returns the name of the stream a partitioned agent consumes:
// RELAY_AGENT_<name>.
func WorkStream(name string) string { return "RELAY_AGENT_" + name }

// inboundTokens is the number of tokens of an event subject:
// relay.inbound.<kind>.<platform>.<chat>.
const inboundTokens = 5

// workTransform returns the subject transform that sources the events of
// filter into the agent's work stream with their chat's partition appended
// (relay.inbound.<kind>.<platform>.<chat>.<partition>).
func workTransform(filter string, n int) (jetstream.SubjectTransformConfig, error) {
	toks := strings.Split(filter, ".")
	if last := len(toks) - 1; toks[last] == ">" {
		toks = toks[:last]
		for len(toks) < inboundTokens {
			toks = append(toks, "*")
		}
	}
	if len(toks) != inboundTokens || toks[0] != "relay" || toks[1] != "inbound" {
		return jetstream.SubjectTransformConfig{}, fmt.Errorf("%w: filter %q: partitions need a filter on relay.inbound.<kind>.<platform>.<chat>", ErrInvalidOptions, filter)
	}
	dest := make([]string, 0, inboundTokens+1)
	var chatWildcards []string
	w := 0
	for i, t := range toks {
		if t != "*" {
			dest = append(dest, t)
			continue
		}
		w++
		dest = append(dest, "{{wildcard("+strconv.Itoa(w)+")}}")
		if i >= 3 { // platform, chat
			chatWildcards = append(chatWildcards, strconv.Itoa(w))
		}
	}
	if len(chatWildcards) == 0 {
		dest = append(dest, "0") // one chat: one partition
	} else {
		dest = append(dest, "{{partition("+strconv.Itoa(n)+","+strings.Join(chatWildcards, ",")+")}}")
	}
	return jetstream.SubjectTransformConfig{Source: strings.Join(toks, "."), Destination: strings.Join(dest, ".")}, nil
}

// ensureWorkStream creates the agent's work stream when it is missing: a
// work queue that sources RELAY_INBOUND's events of the agent's filters,
// in order, each with its chat's partition appended. A new one starts with
// the events published from now on (or, with DeliverAll, every stored
// one). An existing one is kept, and must have the same transforms.
func (c *Client) ensureWorkStream(ctx context.Context) (string, error) {
	name := WorkStream(c.opts.Name)
	var transforms []jetstream.SubjectTransformConfig
	for _, f := range c.opts.filters() {
		tr, err := workTransform(f, c.opts.Partitions)
		if err != nil {
			return "", err
		}
		transforms = append(transforms, tr)
	}
	if s, err := c.js.Stream(ctx, name); err == nil {
		cfg := s.CachedInfo().Config
		if len(cfg.Sources) != 1 || !slices.Equal(cfg.Sources[0].SubjectTransforms, transforms) {
			return "", fmt.Errorf("%w: stream %s exists with other partitions or filters; remove it once empty (nats stream rm %s) to change them", ErrInvalidOptions, name, name)
		}
		return name, nil
	} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return "", err
	}
	in, err := c.js.Stream(ctx, events.InboundStream)
	if err != nil {
		return "", fmt.Errorf("agent: %s: %w", events.InboundStream, err)
	}
	src := &jetstream.StreamSource{Name: events.InboundStream, SubjectTransforms: transforms}
	if !c.opts.DeliverAll {
		now := time.Now().UTC()
		src.OptStartTime = &now
	}
	icfg := in.CachedInfo().Config
	_, err = c.js.CreateStream(ctx, jetstream.StreamConfig{
		Name:        name,
		Description: "events of agent " + c.opts.Name + ", partitioned by chat (sourced from " + events.InboundStream + ")",
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     icfg.Storage,
		Replicas:    icfg.Replicas,
		MaxAge:      icfg.MaxAge,
		MaxBytes:    icfg.MaxBytes,
		Sources:     []*jetstream.StreamSource{src},
	})
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return name, nil // another replica created it first
	}
	return name, err
}

// workChat is the ordering key of an event on the work stream: its
// platform and chat tokens.
func workChat(m jetstream.Msg) string {
	toks := strings.Split(m.Subject(), ".")
	if len(toks) != inboundTokens+1 {
		return m.Headers().Get(events.SessionKeyHeader)
	}
	return toks[3] + "." + toks[4]
}

// publicSubject strips the partition a work stream's subject carries.
func publicSubject(subject string) string {
	if strings.Count(subject, ".") == inboundTokens {
		return subject[:strings.LastIndexByte(subject, '.')]
	}
	return subject
}
