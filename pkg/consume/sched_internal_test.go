package consume

import "testing"

// TestReadyListStaysBounded: a loop that is never idle (two chats always
// ready) does not grow its ready list with every message it ever ran.
func TestReadyListStaysBounded(t *testing.T) {
	s := newSched()
	s.add("a", &item{seq: 0})
	s.add("b", &item{seq: 0})
	for i := 1; i <= 100_000; i++ {
		c, _, ok := s.next()
		if !ok {
			t.Fatal("nothing ready")
		}
		s.add(c.key, &item{seq: uint64(i)}) // its next message, behind it
		s.done(c)                           // back on the ready list
	}
	if n := cap(s.ready); n > 4096 {
		t.Errorf("ready list capacity %d after 100000 messages, want it bounded", n)
	}
}
