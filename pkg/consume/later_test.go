package consume_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/relaybus/relaybus/pkg/consume"
	"github.com/relaybus/relaybus/pkg/natstest"
)

// TestLaterFreesTheWorkerAndHoldsTheChat: with one worker, deferred
// messages of many chats are in hand at once (the worker is not waiting
// on them), while each chat has at most one: its next message is handed
// to the handler only after the previous one's done. A deferred failure
// is retried in place, before its chat goes on; every message is acked.
func TestLaterFreesTheWorkerAndHoldsTheChat(t *testing.T) {
	js, _, _ := setup(t)
	const chats, per = 20, 5
	var (
		log        chatLog
		mu         sync.Mutex
		open       = map[string]bool{} // chat -> a message of it is deferred
		overlap    int                 // a chat's message handed out while its previous was deferred
		inHand     int
		maxInHand  int
		failedOnce atomic.Bool
		wg         sync.WaitGroup
	)
	start(t, js, consume.Config{Workers: 1, Key: chatOf, NakBase: 50 * time.Millisecond}, func(ctx context.Context, m jetstream.Msg) error {
		data := string(m.Data())
		chat, _ := split(data)
		done := consume.Later(ctx)
		if done == nil {
			return errors.New("Later outside a deferrable handler")
		}
		mu.Lock()
		if open[chat] {
			overlap++
		}
		open[chat] = true
		inHand++
		maxInHand = max(maxInHand, inHand)
		mu.Unlock()
		wg.Add(1)
		go func() { // the outcome comes later, from another goroutine
			defer wg.Done()
			time.Sleep(20 * time.Millisecond)
			mu.Lock()
			open[chat] = false
			inHand--
			mu.Unlock()
			if data == "c3/2" && failedOnce.CompareAndSwap(false, true) {
				done(errors.New("output not stored"))
				return
			}
			log.add(data)
			done(nil)
		}()
		return nil
	})
	publishChats(t, js, subject+".", chats, 0, per, 0)
	natstest.WaitFor(t, 20*time.Second, func() error {
		if n := log.distinct(); n != chats*per {
			return fmt.Errorf("handled %d of %d", n, chats*per)
		}
		return nil
	})
	wg.Wait()
	log.checkOrder(t, chats, per)
	waitSettled(t, js)
	mu.Lock()
	defer mu.Unlock()
	if overlap != 0 {
		t.Errorf("%d times a chat's next message was handed out while its previous was deferred", overlap)
	}
	if maxInHand < 5 {
		t.Errorf("at most %d deferred messages in hand with one worker, want many (the worker waited on them)", maxInHand)
	}
	if !failedOnce.Load() {
		t.Error("the failing message was never handled")
	}
}

// TestLaterOutcomes: done called before the handler returns acks; a
// handler that defers and then returns an error is retried; Permanent
// through done gives the message up.
func TestLaterOutcomes(t *testing.T) {
	js, _, _ := setup(t)
	var d letters
	var attempts sync.Map // data -> *atomic.Int64
	start(t, js, consume.Config{Workers: 2, Key: chatOf, NakBase: 20 * time.Millisecond, DeadLetter: d.hook},
		func(ctx context.Context, m jetstream.Msg) error {
			data := string(m.Data())
			n, _ := attempts.LoadOrStore(data, new(atomic.Int64))
			attempt := n.(*atomic.Int64).Add(1)
			done := consume.Later(ctx)
			switch data {
			case "a/0": // reported before returning
				done(nil)
			case "a/1": // deferred, then failed by the handler itself
				if attempt == 1 {
					return errors.New("failed after Later")
				}
				go done(nil)
			case "a/2":
				go done(consume.Permanent(errors.New("bad input")))
			default:
				go done(nil)
			}
			return nil
		})
	for i := range 4 {
		if _, err := js.Publish(t.Context(), subject, []byte("a/"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	subjects, causes := d.wait(t, 1)
	if len(subjects) != 1 || causes[0] == nil || causes[0].Error() != "bad input" {
		t.Errorf("dead letters %v %v, want a/2's bad input", subjects, causes)
	}
	waitSettled(t, js)
	for data, want := range map[string]int64{"a/0": 1, "a/1": 2, "a/2": 1, "a/3": 1} {
		n, _ := attempts.Load(data)
		if n == nil || n.(*atomic.Int64).Load() != want {
			t.Errorf("%s attempted %v times, want %d", data, n, want)
		}
	}
}
