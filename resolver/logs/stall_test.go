package logs

import (
	"bytes"
	"fmt"
	"io"
	"os"
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
