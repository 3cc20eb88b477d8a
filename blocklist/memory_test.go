package blocklist

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/internal/cputime"
)

// TestBuildPhaseMemory is a measurement, not a check: with
// BULWARK_BUILD_TRACE set to a list of names (one a line, as bench/gen
// writes them), it builds the list twice, as a refresh does (the first
// set stays live), and logs at the end of each phase of the second build
// the process's resident size, its peak within the phase (VmHWM, reset
// through /proc/self/clear_refs as each phase starts) and the heap's
// in-use bytes: what docs/ARCHITECTURE.md "Building a large set" reports.
// Run it alone: go test -run TestBuildPhaseMemory -v ./blocklist
func TestBuildPhaseMemory(t *testing.T) {
	path := os.Getenv("BULWARK_BUILD_TRACE")
	if path == "" {
		t.Skip("BULWARK_BUILD_TRACE is not set (a measurement, not a test)")
	}
	debug.SetGCPercent(10) // as cmd/bulwark runs a build (buildGCPercent)
	build := func(trace func(string)) *Set {
		b := NewBuilder()
		b.opts.trace = trace
		addList(t, b, path, func(_ int, name string) Rule { return Rule{Name: name} })
		if trace != nil {
			trace("add")
		}
		s, err := b.Finish()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	var ms runtime.MemStats
	idle := procStatusMB(t, "VmRSS")
	last, lastCPU := time.Now(), cputime.Process()
	trace := func(phase string) {
		runtime.ReadMemStats(&ms)
		t.Logf("%-8s %6.0f ms (cpu %6.0f)  rss %4.0f MB  peak %4.0f MB (%.2fx idle)  heap_inuse %4.0f MB  heap_retained_free %4.0f MB",
			phase, float64(time.Since(last).Microseconds())/1000, float64((cputime.Process()-lastCPU).Microseconds())/1000,
			procStatusMB(t, "VmRSS"), procStatusMB(t, "VmHWM"),
			procStatusMB(t, "VmHWM")/idle, float64(ms.HeapInuse)/(1<<20), float64(ms.HeapIdle-ms.HeapReleased)/(1<<20))
		resetHWM(t)
		last, lastCPU = time.Now(), cputime.Process()
	}
	t.Logf("cold build (rss before: %.0f MB)", idle)
	resetHWM(t)
	old := build(trace)
	debug.FreeOSMemory()
	idle = procStatusMB(t, "VmRSS")
	t.Logf("refresh build: idle (old set live, %.1f MB): rss %.0f MB", float64(old.SizeBytes())/(1<<20), idle)
	resetHWM(t)
	s := build(trace)
	runtime.KeepAlive(old)
	t.Logf("new set %.1f MB", float64(s.SizeBytes())/(1<<20))
}

// TestSnapshotDigest is a check across builds, not a test: with
// BULWARK_BUILD_DIGEST set to a list of names (one a line), it builds the
// list with a fixed seed and logs the SHA-256 of its snapshot, which a
// change to the builder or the compile must leave as it is unless it
// bumps the snapshot version (compare with main's build of this test).
func TestSnapshotDigest(t *testing.T) {
	path := os.Getenv("BULWARK_BUILD_DIGEST")
	if path == "" {
		t.Skip("BULWARK_BUILD_DIGEST is not set (a check across builds)")
	}
	b := NewBuilder()
	b.opts.seed = 20261203
	// Every third name blocks below it only and every fifth is an allow
	// rule, so that pairs and record states vary.
	addList(t, b, path, func(i int, name string) Rule {
		r := Rule{Name: name, Allow: i%5 == 0}
		if i%3 == 0 {
			r.Scope = Below
		}
		return r
	})
	s, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := s.WriteTo(h); err != nil {
		t.Fatal(err)
	}
	t.Logf("snapshot sha256 %x", h.Sum(nil))
}

// addList adds the rule rule makes of each name of the list at path (one a
// line), reserving room as a feed would from the file's size.
func addList(t *testing.T, b *Builder, path string, rule func(i int, name string) Rule) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil {
		b.Grow(int(st.Size() / 16)) // about what feeds' hint gives
	}
	sc := bufio.NewScanner(f)
	for i := 0; sc.Scan(); i++ {
		if err := b.Add(rule(i, string(bytes.TrimSpace(sc.Bytes())))); err != nil {
			t.Fatal(err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// procStatusMB returns a /proc/self/status field in MiB.
func procStatusMB(t *testing.T, key string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return float64(kb) / 1024
		}
	}
	t.Fatal(fmt.Errorf("no %s in /proc/self/status", key))
	return 0
}

// resetHWM resets VmHWM to the current resident size.
func resetHWM(t *testing.T) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skip(err)
	}
}
