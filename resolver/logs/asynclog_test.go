package logs

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/promtest"
	"github.com/bulwark-dns/bulwark/resolver/query"
)

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
