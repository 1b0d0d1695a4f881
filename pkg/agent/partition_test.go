package agent_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/relaybus/relaybus/pkg/agent"
	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/natstest"
)

// TestPartitionedReplicasKeepChatOrder: two replicas of a partitioned
// agent share 10 chats × 40 events; one replica's connection is cut
// mid-stream (as if killed). Each chat's events are first handled in the
// order published, none is lost, and handlers see the public subject.
func TestPartitionedReplicasKeepChatOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a pin to expire")
	}
	ns, _, js := setup(t)
	newFakeEgress(t, ns, sent)
	var mu sync.Mutex
	order := map[string][]int{}
	seen := map[string]bool{}
	var badSubject string
	h := func(ctx context.Context, ev *agent.Event) error {
		n, _ := strconv.Atoi(ev.Text)
		mu.Lock()
		defer mu.Unlock()
		order[ev.Source.ChatID] = append(order[ev.Source.ChatID], n)
		seen[ev.Source.ChatID+"/"+ev.Text] = true
		if ev.Subject != events.InboundMessageSubject("discord", ev.Source.ChatID) {
			badSubject = ev.Subject
		}
		return nil
	}
	opts := agent.Options{Name: "ordered", Workers: 4, Partitions: 4, AckWait: time.Second}
	victim := natstest.Connect(t, ns)
	c1, _ := agent.New(victim, opts)
	c2, _ := agent.New(natstest.Connect(t, ns), opts)
	runAgent(t, c1, h)
	runAgent(t, c2, h)
	natstest.WaitFor(t, 10*time.Second, func() error {
		_, err := js.Consumer(t.Context(), agent.WorkStream("ordered"), "ordered-p0")
		return err
	})
	const chats, n = 10, 40
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			for c := range chats {
				publishEvent(t, js, message(fmt.Sprintf("chat%d", c), fmt.Sprintf("%d-%d", c, i), strconv.Itoa(i)))
			}
		}
	}
	publish(0, n/2)
	natstest.WaitFor(t, 10*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(seen) < chats*n/4 {
			return fmt.Errorf("handled %d", len(seen))
		}
		return nil
	})
	victim.Close()
	publish(n/2, n)
	natstest.WaitFor(t, 30*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(seen) != chats*n {
			return fmt.Errorf("handled %d of %d", len(seen), chats*n)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	for chat, got := range order {
		next := 0
		for _, m := range got {
			if m > next {
				t.Fatalf("chat %s: event %d before %d (%v)", chat, m, next, got)
			}
			if m == next {
				next++
			}
		}
	}
	if badSubject != "" {
		t.Errorf("handler saw subject %q, want the public relay.inbound.message.<platform>.<chat>", badSubject)
	}
}
