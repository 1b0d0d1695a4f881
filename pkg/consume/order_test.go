package consume_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/pkg/consume"
	"github.com/relaybus/relaybus/pkg/natstest"
)

// chatLog records, per chat, the order messages were handled in. A
// message is "<chat>/<n>".
type chatLog struct {
	mu    sync.Mutex
	order map[string][]int
	count map[string]int // by message
	at    map[string]time.Time
}

func (c *chatLog) add(data string) {
	chat, n := split(data)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.order == nil {
		c.order, c.count, c.at = map[string][]int{}, map[string]int{}, map[string]time.Time{}
	}
	c.order[chat] = append(c.order[chat], n)
	c.count[data]++
	c.at[data] = time.Now()
}

func split(data string) (string, int) {
	chat, num, _ := strings.Cut(data, "/")
	n, _ := strconv.Atoi(num)
	return chat, n
}

// chatOf keys a message "<chat>/<n>" by its chat.
func chatOf(m jetstream.Msg) string {
	c, _ := split(string(m.Data()))
	return c
}

// distinct returns the number of distinct messages handled.
func (c *chatLog) distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.count)
}

// waitHalfEach waits until neither of two replicas holds more than half
// of the partitions (what names them in the failure).
func waitHalfEach(t *testing.T, what string, a, b *consume.Loop) {
	t.Helper()
	natstest.WaitFor(t, 10*time.Second, func() error {
		x, y := len(a.Held()), len(b.Held())
		if x > pcount/2 || y > pcount/2 {
			return fmt.Errorf("%s hold %d and %d of %d partitions, want at most %d each", what, x, y, pcount, pcount/2)
		}
		return nil
	})
}

// waitInOrder waits (up to timeout) until chats × n distinct messages were
// handled, then checks their order (checkOrder) and returns the repeats.
func (c *chatLog) waitInOrder(t *testing.T, chats, n int, timeout time.Duration) (repeats int) {
	t.Helper()
	natstest.WaitFor(t, timeout, func() error {
		if d := c.distinct(); d != chats*n {
			return fmt.Errorf("handled %d of %d", d, chats*n)
		}
		return nil
	})
	return c.checkOrder(t, chats, n)
}

// checkOrder fails the test unless, per chat, the messages were first
// handled in increasing order with none missing (0..n-1). It returns the
// number of repeated handlings (redeliveries of messages a stopped
// replica had in hand).
func (c *chatLog) checkOrder(t *testing.T, chats, n int) (repeats int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.order) != chats {
		t.Errorf("%d chats handled, want %d", len(c.order), chats)
	}
	for chat, got := range c.order {
		next := 0
		for _, m := range got {
			switch {
			case m == next:
				next++
			case m < next:
				repeats++ // handled again: a redelivery, after its successors? checked below
			default:
				t.Errorf("chat %s: message %d handled before %d (order %v)", chat, m, next, got)
				return repeats
			}
		}
		if next != n {
			t.Errorf("chat %s: handled up to %d of %d", chat, next, n)
		}
	}
	return repeats
}

// partitioned is a work-queue stream whose subjects part.<chat> are stored
// as part.<p>.<chat>: p is the partition of the chat, by the stream's
// subject transform (the bus partitions; publishers name the chat).
const (
	pstream = "PART"
	pcount  = 8
)

func partitionedStream(ctx context.Context, js jetstream.JetStream) error {
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: pstream, Subjects: []string{"part.>"}, Retention: jetstream.WorkQueuePolicy,
		SubjectTransform: &jetstream.SubjectTransformConfig{
			Source: "part.*", Destination: fmt.Sprintf("part.{{partition(%d,1)}}.{{wildcard(1)}}", pcount),
		},
	})
	return err
}

// partitionedServer starts a server with the partitioned stream and
// returns it with a publisher.
func partitionedServer(t *testing.T) (*server.Server, jetstream.JetStream) {
	t.Helper()
	ns := natstest.RunServer(t)
	pub := natstest.JetStream(t, natstest.Connect(t, ns))
	if err := partitionedStream(t.Context(), pub); err != nil {
		t.Fatal(err)
	}
	return ns, pub
}

// handler records each message after taking work (a handler's time).
func (c *chatLog) handler(work time.Duration) consume.Handler {
	return func(_ context.Context, m jetstream.Msg) error {
		time.Sleep(work)
		c.add(string(m.Data()))
		return nil
	}
}

func partitionedConfig() consume.Config {
	return consume.Config{
		Stream: pstream, Durable: "pd", Workers: 16,
		Partitions:      pcount,
		PartitionFilter: func(p int) []string { return []string{"part." + strconv.Itoa(p) + ".*"} },
		Key: func(m jetstream.Msg) string {
			tok := strings.Split(m.Subject(), ".")
			return tok[len(tok)-1]
		},
		AckWait: time.Second, PullExpiry: 1500 * time.Millisecond, Heartbeat: 500 * time.Millisecond,
		BalanceEvery: 300 * time.Millisecond, ReleaseCooldown: 300 * time.Millisecond,
		NakBase: 5 * time.Millisecond, Grace: 2 * time.Second,
	}
}

// publishChats publishes n messages to each of chats chats, interleaved,
// asynchronously, in order per chat.
func publishChats(t *testing.T, js jetstream.JetStream, prefix string, chats, from, n int, pace time.Duration) {
	t.Helper()
	for i := from; i < from+n; i++ {
		for c := range chats {
			chat := fmt.Sprintf("c%d", c)
			if _, err := js.PublishAsync(prefix+chat, []byte(chat+"/"+strconv.Itoa(i))); err != nil {
				t.Fatal(err)
			}
		}
		if pace > 0 {
			time.Sleep(pace)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(10 * time.Second):
		t.Fatal("publishes not acknowledged")
	}
}

// TestRetryHoldsItsChat: a message that fails twice holds back the later
// messages of its chat (they are not handled before it succeeds) while
// another chat flows.
func TestRetryHoldsItsChat(t *testing.T) {
	js, _, _ := setup(t)
	var log chatLog
	var fails atomic.Int64
	start(t, js, consume.Config{Workers: 4, Key: chatOf, NakBase: 200 * time.Millisecond}, func(_ context.Context, m jetstream.Msg) error {
		if string(m.Data()) == "a/1" && fails.Add(1) <= 2 {
			return errors.New("not yet")
		}
		log.add(string(m.Data()))
		return nil
	})
	for i := range 5 {
		for _, chat := range []string{"a", "b"} {
			if _, err := js.Publish(t.Context(), subject, []byte(chat+"/"+strconv.Itoa(i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	natstest.WaitFor(t, 10*time.Second, func() error {
		if n := log.distinct(); n != 10 {
			return fmt.Errorf("handled %d of 10", n)
		}
		return nil
	})
	log.checkOrder(t, 2, 5)
	log.mu.Lock()
	defer log.mu.Unlock()
	if !log.at["b/4"].Before(log.at["a/1"]) {
		t.Errorf("chat b finished at %v, after chat a's retried message (%v): b waited for a", log.at["b/4"], log.at["a/1"])
	}
	if n := fails.Load(); n != 3 {
		t.Errorf("a/1 attempted %d times, want 3", n)
	}
}

// TestSlowChatStallsOnlyItself: a chat whose handler takes long holds its
// own later messages only; 100 other chats finish meanwhile (there is no
// shared shard or worker they could wait behind).
func TestSlowChatStallsOnlyItself(t *testing.T) {
	js, _, _ := setup(t)
	var log chatLog
	release := make(chan struct{})
	start(t, js, consume.Config{Workers: 8, Key: chatOf}, func(_ context.Context, m jetstream.Msg) error {
		if string(m.Data()) == "slow/0" {
			<-release
		}
		log.add(string(m.Data()))
		return nil
	})
	for i := range 3 {
		if _, err := js.Publish(t.Context(), subject, []byte("slow/"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		for c := range 100 {
			if _, err := js.PublishAsync(subject, []byte(fmt.Sprintf("c%d/%d", c, i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	<-js.PublishAsyncComplete()
	natstest.WaitFor(t, 10*time.Second, func() error {
		if n := log.distinct(); n != 300 {
			return fmt.Errorf("other chats: handled %d of 300 while one chat is slow", n)
		}
		return nil
	})
	close(release)
	natstest.WaitFor(t, 10*time.Second, func() error {
		if n := log.distinct(); n != 303 {
			return fmt.Errorf("handled %d of 303", n)
		}
		return nil
	})
	log.checkOrder(t, 101, 3)
}

// TestAttemptCountsRetries: Attempt tells a handler which attempt it is,
// counting the loop's own retries.
func TestAttemptCountsRetries(t *testing.T) {
	js, _, _ := setup(t)
	var mu sync.Mutex
	var attempts []uint64
	start(t, js, consume.Config{Workers: 1, NakBase: time.Millisecond}, func(ctx context.Context, _ jetstream.Msg) error {
		mu.Lock()
		defer mu.Unlock()
		attempts = append(attempts, consume.Attempt(ctx))
		if len(attempts) < 3 {
			return errors.New("again")
		}
		return nil
	})
	publish(t, js, 1, 0)
	waitSettled(t, js)
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(attempts, []uint64{1, 2, 3}) {
		t.Errorf("attempts = %v, want [1 2 3]", attempts)
	}
}

// TestPartitionsKeepChatOrderAcrossReplicas: three replicas consume 20
// chats × 60 messages from a partitioned stream; one replica's connection
// is cut (as if killed: nothing handed back, its pins expire) mid-stream.
// Per chat, messages are first handled in order, none is lost, and the
// partitions end up spread over the two survivors.
func TestPartitionsKeepChatOrderAcrossReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a pin to expire")
	}
	ns, pub := partitionedServer(t)
	var log chatLog
	h := log.handler(time.Millisecond)
	var loops []*consume.Loop
	var victim *nats.Conn
	for i := range 3 {
		nc := natstest.Connect(t, ns)
		if i == 0 {
			victim = nc
		}
		l, _ := start(t, natstest.JetStream(t, nc), partitionedConfig(), h)
		loops = append(loops, l)
	}
	for _, l := range loops {
		natstest.WaitFor(t, 10*time.Second, l.Ready)
	}
	const chats, n = 20, 60
	publishChats(t, pub, "part.", chats, 0, n/2, 0)
	natstest.WaitFor(t, 10*time.Second, func() error {
		if d := log.distinct(); d < chats*n/4 {
			return fmt.Errorf("handled %d", d)
		}
		return nil
	})
	victim.Close() // the replica dies with messages in hand
	publishChats(t, pub, "part.", chats, n/2, n/2, 0)
	repeats := log.waitInOrder(t, chats, n, 30*time.Second)
	t.Logf("%d messages handled, %d handled again after the replica died", chats*n, repeats)
	// The survivors took the dead one's partitions (they were served),
	// and neither holds more than its share. (A partition is pinned when
	// it has something to deliver: idle ones may be held by no one.)
	waitHalfEach(t, "survivors", loops[1], loops[2])
}

// TestPartitionsRebalance: one replica holds every partition; two more
// join mid-stream and take their share (handed over in order, nothing
// handled twice), then one of them stops and the others take its
// partitions back.
func TestPartitionsRebalance(t *testing.T) {
	if testing.Short() {
		t.Skip("rebalances over seconds")
	}
	ns, pub := partitionedServer(t)
	var log chatLog
	h := log.handler(500 * time.Microsecond)
	replicas := 0
	join := func() (*consume.Loop, func()) {
		cfg := partitionedConfig()
		cfg.Log = natstest.Logger(t).With("replica", replicas)
		replicas++
		return start(t, natstest.JetStream(t, natstest.Connect(t, ns)), cfg, h)
	}
	first, _ := join()
	natstest.WaitFor(t, 10*time.Second, first.Ready)
	// Traffic flows in rounds (one message per chat) until the two that
	// joined hold their share: a partition is pinned when it has something
	// to deliver, so balancing needs traffic.
	const chats = 20
	var rounds atomic.Int64
	balanced := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			publishChats(t, pub, "part.", chats, i, 1, 0)
			rounds.Store(int64(i + 1))
			select {
			case <-balanced:
				if i >= 150 {
					return
				}
			default:
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	natstest.WaitFor(t, 10*time.Second, func() error {
		if h := len(first.Held()); h != pcount {
			return fmt.Errorf("first replica holds %d of %d", h, pcount)
		}
		return nil
	})
	second, stopSecond := join()
	third, _ := join()
	natstest.WaitFor(t, 30*time.Second, func() error {
		a, b, c := len(first.Held()), len(second.Held()), len(third.Held())
		if a == 0 || b == 0 || c == 0 || a > 3 || b > 3 || c > 3 {
			return fmt.Errorf("replicas hold %d, %d, %d of %d partitions", a, b, c, pcount)
		}
		return nil
	})
	stopSecond()
	close(balanced)
	<-done
	n := int(rounds.Load())
	if repeats := log.waitInOrder(t, chats, n, 30*time.Second); repeats != 0 {
		t.Errorf("%d messages handled twice: a hand-over must settle or hand back, never duplicate", repeats)
	}
	waitHalfEach(t, "remaining replicas", first, third)
}

// TestNATSRestartKeepsChatOrder: the server restarts while messages stream
// in. On its way down the server answers every waiting pull with 409
// Server Shutdown, then still stores messages for 50 ms, and delivers
// some of them to pull requests of the loop that the client already ended:
// those come back only after their ack wait, behind newer messages of
// their chats that the restarted server delivers at once. Each partition
// waits for them (a new pin after the restart gates it) while deliveries
// keep coming; the gate must not open on a count that includes messages
// delivered after the server counted its pending ones (as it did in the
// compose suite: a frame stored during the shutdown handled some 4 s after
// its chat's later frames).
func TestNATSRestartKeepsChatOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a server")
	}
	n := natstest.StartNATS(t)
	pub := natstest.JetStream(t, natstest.Connect(t, n.Server))
	if err := partitionedStream(t.Context(), pub); err != nil {
		t.Fatal(err)
	}
	var log chatLog
	cfg := partitionedConfig()
	cfg.AckWait = 4 * time.Second
	// Deliveries go on while a partition waits (as in the compose suite,
	// where a partition may hold 256).
	cfg.MaxAckPending, cfg.PartitionMaxAckPending = 1<<15, 1<<12
	js := natstest.JetStream(t, natstest.Connect(t, n.Server))
	cfg.Ensure = func(ctx context.Context) error { return partitionedStream(ctx, js) }
	cfg.Log = natstest.LevelLogger(t, slog.LevelDebug)
	l, _ := start(t, js, cfg, log.handler(0))
	natstest.WaitFor(t, 10*time.Second, l.Ready)

	// Rounds of one message per chat: published one at a time, each
	// until stored (a Nats-Msg-Id absorbs a retry's copy), up to and
	// through the restart; then as fast as the server takes them, while
	// the partitions wait for what the shutdown lost.
	const chats = 8
	var rounds, sent atomic.Int64
	var burstUntil atomic.Int64 // unix nanos; 0 before the restart
	published := make(chan struct{})
	msg := func(i, c int) *nats.Msg {
		chat := fmt.Sprintf("c%d", c)
		m := nats.NewMsg("part." + chat)
		m.Data = []byte(chat + "/" + strconv.Itoa(i))
		m.Header.Set(nats.MsgIdHdr, string(m.Data))
		return m
	}
	go func() {
		defer close(published)
		for i := 0; ; i++ {
			if until := burstUntil.Load(); until != 0 {
				if time.Now().UnixNano() > until || i >= 4000 {
					return
				}
				for c := range chats {
					if _, err := pub.PublishMsgAsync(msg(i, c)); err != nil {
						t.Errorf("publishing: %v", err)
						return
					}
				}
				if i%64 == 0 {
					<-pub.PublishAsyncComplete()
				}
				rounds.Store(int64(i + 1))
				continue
			}
			for c := range chats {
				for {
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					_, err := pub.PublishMsg(ctx, msg(i, c))
					cancel()
					if err == nil {
						break
					}
					if t.Context().Err() != nil {
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
				sent.Add(1)
				time.Sleep(time.Millisecond / chats)
			}
			rounds.Store(int64(i + 1))
		}
	}()
	natstest.WaitFor(t, 20*time.Second, func() error {
		if s := sent.Load(); s < 2000 {
			return fmt.Errorf("%d sent", s)
		}
		return nil
	})
	n.RestartAfter(t, 500*time.Millisecond)
	natstest.WaitFor(t, 10*time.Second, func() error {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err := pub.Stream(ctx, pstream)
		return err
	})
	burstUntil.Store(time.Now().Add(cfg.AckWait - 500*time.Millisecond).UnixNano())
	<-published
	select {
	case <-pub.PublishAsyncComplete():
	case <-time.After(10 * time.Second):
		t.Fatal("publishes not acknowledged")
	}
	perChat := int(rounds.Load())
	repeats := log.waitInOrder(t, chats, perChat, 60*time.Second)
	t.Logf("%d messages handled, %d handled again", chats*perChat, repeats)
}
