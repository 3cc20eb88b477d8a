package logs

import (
	"bufio"
	"bytes"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// gatedWriter holds its first Write until open is closed, telling entered
// when it is in it.
type gatedWriter struct {
	entered chan struct{}
	open    chan struct{}
	once    sync.Once
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (w *gatedWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.entered); <-w.open })
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// TestAsyncLogQueueBound: with the writer stuck on a write of the first
// record, the queue takes queue-1 more records (the one being written
// counts) across as many chunks as that needs, drops and counts the rest,
// and once the write returns every accepted record is written, in order.
func TestAsyncLogQueueBound(t *testing.T) {
	for _, tc := range []struct{ queue, extra int }{
		{1, 3},
		{2, 0},
		{10, 5},
		{logChunkLen, 1},
		{logChunkLen + 1, 7},
		{3*logChunkLen + 5, 100},
	} {
		t.Run(strconv.Itoa(tc.queue)+"+"+strconv.Itoa(tc.extra), func(t *testing.T) {
			w := &gatedWriter{entered: make(chan struct{}), open: make(chan struct{})}
			var dropped atomic.Int64
			l := newAsyncLog("test log", w, tc.queue, func(dst []byte, r *int) ([]byte, error) {
				return append(strconv.AppendInt(dst, int64(*r), 10), '\n'), nil
			}, func(n int) { dropped.Add(int64(n)) }, nil)
			first := 0
			l.send(&first)
			<-w.entered // the writer holds record 0 in its write
			total := tc.queue - 1 + tc.extra
			for i := 1; i <= total; i++ {
				l.send(&i)
			}
			if got := dropped.Load(); got != int64(tc.extra) {
				t.Errorf("%d dropped with the queue full, want %d", got, tc.extra)
			}
			close(w.open)
			l.close()
			if got := dropped.Load(); got != int64(tc.extra) {
				t.Errorf("%d dropped in all, want %d", got, tc.extra)
			}
			sc := bufio.NewScanner(&w.buf)
			n := 0
			for ; sc.Scan(); n++ {
				if sc.Text() != strconv.Itoa(n) {
					t.Fatalf("line %d is %q", n, sc.Text())
				}
			}
			if n != tc.queue {
				t.Errorf("%d lines written, want %d (the queue)", n, tc.queue)
			}
			after := 1
			l.send(&after) // after close: dropped and counted
			if got := dropped.Load(); got != int64(tc.extra)+1 {
				t.Errorf("a record sent after close: %d dropped, want %d", got, tc.extra+1)
			}
		})
	}
}
