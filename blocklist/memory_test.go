package blocklist

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/internal/cputime"
)

// BenchmarkBuildPhases measures, with BULWARK_BUILD_TRACE set to a list
// of names (one a line, as bench/gen writes them), what a build holds
// phase by phase: it builds the list twice, as a refresh does (the first
// set stays live), and logs at the end of each phase the process's
// resident size, its peak within the phase (VmHWM, reset through
// /proc/self/clear_refs as each phase starts), the phase's wall and CPU
// time and the heap's in-use bytes: what docs/ARCHITECTURE.md "Building a
// large set" reports. Run it alone, once:
// BULWARK_BUILD_TRACE=list go test -run '^$' -bench BuildPhases -benchtime 1x -v ./blocklist
func BenchmarkBuildPhases(tb *testing.B) {
	path := os.Getenv("BULWARK_BUILD_TRACE")
	if path == "" {
		tb.Skip("BULWARK_BUILD_TRACE is not set")
	}
	for range tb.N {
		buildPhases(tb, path)
	}
}

// buildPhases is one cold build of the list at path and one refresh
// build, logged phase by phase (BenchmarkBuildPhases).
func buildPhases(t testing.TB, path string) {
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

// TestSnapshotBytesPinned holds the builder and the compile to the bytes
// they lay out: a generated list (names of every length, the long keys'
// tails, wide and bucketed blocks, both scopes, allow rules) built with a
// fixed seed must give the snapshot whose SHA-256 is pinned here. A change
// that alters them must bump the snapshot version and the digest together
// (snapshot.go); one that does not may not alter them. With
// BULWARK_BUILD_DIGEST set to a list of names (one a line), it also logs
// that list's digest, to compare a large real list across builds.
func TestSnapshotBytesPinned(t *testing.T) {
	const want = "0b83d5b79ad85a47a6a4188fdacc50d71014af2838c0ef59d0b0aad6db59a645"
	b := NewBuilder()
	b.opts.seed = 20261203
	rng := rand.New(rand.NewPCG(1, 2))
	tlds := []string{"com", "net", "org", "de", "co.uk", "xn--p1ai", "info", "ru"}
	for i := range 60000 {
		labels := make([]string, 1+rng.IntN(4))
		for j := range labels {
			l := make([]byte, 1+rng.IntN(min(30, 3+i%40)))
			for k := range l {
				l[k] = "abcdefghijklmnopqrstuvwxyz0123456789-_"[rng.IntN(26+10*(k%2))]
			}
			l[0], l[len(l)-1] = 'a'+byte(rng.IntN(26)), 'a'+byte(rng.IntN(26))
			labels[j] = string(l)
		}
		name := strings.Join(labels, ".") + "." + tlds[rng.IntN(len(tlds))]
		if err := b.Add(digestRule(i, name)); err != nil {
			t.Fatal(err)
		}
	}
	if got := snapshotDigest(t, b); got != want {
		t.Errorf("snapshot sha256 %s, pinned %s: the layout changed (bump the snapshot version and the digest together)", got, want)
	}
	if path := os.Getenv("BULWARK_BUILD_DIGEST"); path != "" {
		b := NewBuilder()
		b.opts.seed = 20261203
		addList(t, b, path, digestRule)
		t.Logf("%s: snapshot sha256 %s", path, snapshotDigest(t, b))
	}
}

// digestRule is the rule of the i-th name of a digest's list: every third
// blocks below it only and every fifth is an allow rule, so that pairs and
// record states vary.
func digestRule(i int, name string) Rule {
	r := Rule{Name: name, Allow: i%5 == 0}
	if i%3 == 0 {
		r.Scope = Below
	}
	return r
}

// snapshotDigest finishes b and returns the SHA-256 of its snapshot.
func snapshotDigest(t *testing.T, b *Builder) string {
	s, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := s.WriteTo(h); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// addList adds the rule rule makes of each name of the list at path (one a
// line), reserving room as a feed would from the file's size.
func addList(t testing.TB, b *Builder, path string, rule func(i int, name string) Rule) {
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
func procStatusMB(t testing.TB, key string) float64 {
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
func resetHWM(t testing.TB) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skip(err)
	}
}
