package wsedge

import (
	"sync"
	"testing"
)

// TestWaiterWriteState: of the writer beginning a frame and its request
// abandoning it, exactly one wins, however they race.
func TestWaiterWriteState(t *testing.T) {
	for range 1000 {
		w := &waiter{}
		var began, abandoned bool
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); began = w.begin() }()
		go func() { defer wg.Done(); abandoned = w.abandon() }()
		wg.Wait()
		if began == abandoned {
			t.Fatalf("begin = %v, abandon = %v: want exactly one to win", began, abandoned)
		}
		if w.begin() || w.abandon() {
			t.Fatal("a settled write state changed again")
		}
	}
}
