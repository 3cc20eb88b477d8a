package logs

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/promtest"
	"github.com/bulwark-dns/bulwark/resolver/query"
)

// TestBlockLogStalledStdoutDoesNotHangClose: the block log writes to a
// pipe nobody reads (stdout of a process whose reader stopped). Close, as
// shutdown calls it, gives up on the stalled writer, and every line that
// was not written is counted as dropped.
func TestBlockLogStalledStdoutDoesNotHangClose(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	reg := prometheus.NewRegistry()
	bl := NewBlockLog(w, NewMetrics(reg), nil)
	const n = 5000 // far more than a pipe buffer holds
	for i := 0; i < n; i++ {
		bl.Log(BlockRecord{QName: fmt.Sprintf("host-%d.blocked.example", i), Decision: query.Decision{Table: &blocklist.Table{}}})
	}
	closed := make(chan struct{})
	go func() { bl.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(time.Minute): // a failsafe, not a timing assertion
		t.Fatal("BlockLog.Close hung on a stalled writer")
	}
	dropped := promtest.Value(t, reg, "bulwark_blocklog_dropped_total")
	if dropped == 0 {
		t.Error("nothing counted as dropped with a stalled writer")
	}
	// What did reach the pipe plus what was counted covers every line.
	w.Close() // the abandoned writer's write ends when the pipe is drained
	b, _ := io.ReadAll(r)
	if got := float64(bytes.Count(b, []byte("\n"))) + dropped; got < n {
		t.Errorf("%v lines written + %v dropped < %d logged: lines lost without being counted", bytes.Count(b, []byte("\n")), dropped, n)
	}
}

// countingWriter keeps what the writer goroutine writes and how many
// writes it took.
type countingWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	return w.buf.Write(p)
}

// TestBlockLogBurstKeepsEveryLineInOrder: bursts of records, from one
// record to more than one write's worth, come out as one line each, in
// the order logged, none dropped, with the times as logged, and in no
// more writes than lines (the drained batch is one write).
func TestBlockLogBurstKeepsEveryLineInOrder(t *testing.T) {
	base := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for _, n := range []int{1, 2, 100, 5000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			reg := prometheus.NewRegistry()
			w := &countingWriter{}
			bl := NewBlockLog(w, NewMetrics(reg), nil)
			for i := range n {
				// Several records per second, so the cached second's
				// text is reused and replaced.
				at := base.Add(time.Duration(i) * 300 * time.Millisecond)
				bl.Log(BlockRecord{At: at, QName: fmt.Sprintf("host-%d.blocked.example", i), QType: 1,
					Decision: query.Decision{Table: &blocklist.Table{}}})
			}
			bl.Close()
			if d := promtest.Value(t, reg, "bulwark_blocklog_dropped_total"); d != 0 {
				t.Fatalf("%v of %d lines dropped", d, n)
			}
			sc := bufio.NewScanner(&w.buf)
			i := 0
			for ; sc.Scan(); i++ {
				var ev BlockEvent
				if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
					t.Fatalf("line %d: %v: %s", i, err, sc.Bytes())
				}
				want := base.Add(time.Duration(i) * 300 * time.Millisecond)
				if ev.QName != fmt.Sprintf("host-%d.blocked.example", i) || !ev.Time.Equal(want) {
					t.Fatalf("line %d: qname %q time %v, want host-%d.blocked.example at %v", i, ev.QName, ev.Time, i, want)
				}
			}
			if i != n {
				t.Errorf("%d lines, want %d", i, n)
			}
			if w.writes > n {
				t.Errorf("%d writes for %d lines", w.writes, n)
			}
		})
	}
}
