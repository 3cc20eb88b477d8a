package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/bulwark-dns/bulwark/feeds"
	"github.com/bulwark-dns/bulwark/resolver/config"
)

// gcPercent is Bulwark's GOGC unless the environment sets one. The live
// heap is mostly the cache and the lists, which change slowly; the cache is
// a few pointer-free arenas per shard (docs/ARCHITECTURE.md), so marking it
// costs little and a higher GOGC buys little throughput while it multiplies
// the memory per cached answer: bench/cachemem, 500k answers, 483 / 699 /
// 902 bytes at 100 / 200 / 400 (Unbound 656), mixed q/s alike within the
// noise. 200 keeps it within 1.1× Unbound's. runtime.memory_limit
// (GOMEMLIMIT) bounds the heap too, and releaseBuildGarbage hands each list
// build's garbage back to the OS at once.
const gcPercent = 200

// cgroupShare is the part of a cgroup memory limit the Go heap may use by
// default: the rest is for stacks, binary pages and the kernel's socket
// buffers charged to the cgroup.
const cgroupShare = 0.9

// memoryPolicy is the GC configuration resolved from the config, the
// environment and the cgroup.
type memoryPolicy struct {
	limit  int64  // GOMEMLIMIT in bytes; 0: none
	origin string // where limit came from, for the log line
}

// resolveMemoryPolicy decides the memory limit: an explicit
// runtime.memory_limit wins; with "auto", the GOMEMLIMIT environment
// variable (Go applied it already) and then the cgroup limit read under
// root (the file system root; a test passes a fake one).
func resolveMemoryPolicy(rc config.RuntimeConfig, getenv func(string) string, root fs.FS) (memoryPolicy, error) {
	n, auto, err := rc.Limit()
	switch {
	case err != nil:
		return memoryPolicy{}, err
	case !auto && n == 0:
		return memoryPolicy{origin: "runtime.memory_limit: off"}, nil
	case !auto:
		return memoryPolicy{limit: n, origin: "runtime.memory_limit"}, nil
	case getenv("GOMEMLIMIT") != "":
		return memoryPolicy{limit: -1, origin: "GOMEMLIMIT environment variable"}, nil
	}
	cg, file, err := cgroupMemoryLimit(root)
	if err != nil {
		return memoryPolicy{origin: "no cgroup limit (" + err.Error() + ")"}, nil
	}
	if cg == 0 {
		return memoryPolicy{origin: "no cgroup limit"}, nil
	}
	return memoryPolicy{limit: int64(float64(cg) * cgroupShare), origin: fmt.Sprintf("%.0f%% of the cgroup limit %s in /%s", 100*cgroupShare, feeds.ByteSize(cg), file)}, nil
}

// cgroupMemoryLimit returns the memory limit of the cgroup this process
// runs in (0: unlimited) and the file it was read from. It looks at the
// process's own cgroup (from proc/self/cgroup) and at the root of the
// cgroup file system, as a container sees its own cgroup there; v2
// (memory.max) first, then v1 (memory.limit_in_bytes). The smallest
// limit found applies, as the kernel enforces every one.
func cgroupMemoryLimit(root fs.FS) (int64, string, error) {
	var v2path, v1path string
	if f, err := root.Open("proc/self/cgroup"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// hierarchy-ID:controllers:path
			parts := strings.SplitN(sc.Text(), ":", 3)
			if len(parts) != 3 {
				continue
			}
			switch {
			case parts[0] == "0" && parts[1] == "":
				v2path = parts[2]
			case strings.Contains(","+parts[1]+",", ",memory,"):
				v1path = parts[2]
			}
		}
		f.Close()
	}
	candidates := []string{
		path.Join("sys/fs/cgroup", v2path, "memory.max"),
		"sys/fs/cgroup/memory.max",
		path.Join("sys/fs/cgroup/memory", v1path, "memory.limit_in_bytes"),
		"sys/fs/cgroup/memory/memory.limit_in_bytes",
	}
	var best int64
	var from string
	found := false
	for _, c := range candidates {
		b, err := fs.ReadFile(root, c)
		if err != nil {
			continue
		}
		found = true
		s := strings.TrimSpace(string(b))
		if s == "max" {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return 0, c, fmt.Errorf("/%s holds %q, not a limit", c, s)
		}
		// cgroup v1 writes "no limit" as the largest page-aligned int64.
		if n >= math.MaxInt64/2 {
			continue
		}
		if best == 0 || n < best {
			best, from = n, c
		}
	}
	if !found {
		return 0, "", errors.New("no cgroup memory controller found")
	}
	return best, from, nil
}

// applyMemoryPolicy sets GOGC (through gc, unless the environment sets
// it) and the memory limit of rc, and logs what it chose. It runs at start
// and after each reload, so a new runtime.memory_limit applies without a
// restart.
func applyMemoryPolicy(rc config.RuntimeConfig, logger *slog.Logger, gc *buildGC) {
	gogc := os.Getenv("GOGC")
	if gogc == "" {
		gc.serve(gcPercent)
		gogc = strconv.Itoa(gcPercent)
	}
	p, err := resolveMemoryPolicy(rc, os.Getenv, os.DirFS("/"))
	if err != nil { // validated; unreachable
		logger.Error("runtime.memory_limit", "err", err)
		return
	}
	switch {
	case p.limit > 0:
		debug.SetMemoryLimit(p.limit)
	case p.limit == 0:
		debug.SetMemoryLimit(math.MaxInt64)
	}
	cur := debug.SetMemoryLimit(-1)
	shown := "none"
	if cur != math.MaxInt64 {
		shown = feeds.ByteSize(cur).String()
	}
	logger.Info("memory policy", "gogc", gogc, "gogc_while_building", gc.shown(), "heap_floor", gc.floorShown(cur), "memory_limit", shown, "from", p.origin)
}

// buildGCPercent is GOGC while a list is parsed or the table merged. A
// build's live memory grows as it goes and most of what it allocates is
// soon garbage (parsed names, the trie's growth): at 400 the heap
// reached five times the live heap before a collection, at 100 twice it
// (1M names: 120 MB peak RSS), at 10 a tenth over it (84 MB). What the
// builder holds is pointer-free arrays, which the collector does not
// scan, so the extra collections mark little more than the cache and
// happen only while a build runs: the build's CPU time did not change
// measurably (bench/memory; README "Memory").
const buildGCPercent = 10

// heapFloor is the least heap goal the serving GOGC aims at. A young
// server's live heap is a few MB (an empty cache, no lists), so at GOGC
// 200 it collected every 15-20 MB of garbage: once a second at 5k cold
// misses a second (2.8 KB allocated each; bench/recursive's GC line),
// each cycle's mark (2-5 ms on the one core) delaying the queries it
// overlaps. Below heapFloor/3 of live heap GOGC is raised so that the
// goal is heapFloor; above, gcPercent alone applies, so the memory per
// cached answer of a full cache (bench/cachemem) does not change. At most
// half the memory limit: the floor never makes the limit do the pacing.
const heapFloor = 64 << 20

// floorPercent is the GOGC that makes the heap goal of a live heap of
// live bytes at least floor (but at most half of limit; 0: no limit),
// and never below serving. GOGC applies to the live heap and the GC's
// other roots, the goroutine stacks and the globals: roots is their sum
// with the live heap (a young server's globals outweigh its live heap).
// Found with bench/recursive's GC line: without the roots, and without the
// cap below, a young server's goal went to 340-530 MB, not 64 MiB.
func floorPercent(serving int, live, roots, floor, limit uint64) int {
	if limit > 0 {
		floor = min(floor, limit/2)
	}
	if live == 0 || live >= floor {
		return serving
	}
	// The runtime's least goal is 4 MiB times GOGC/100 whatever the heap
	// holds, which must stay at the floor too.
	p := min((floor-live)*100/max(roots, live), floor*100/(4<<20))
	return max(serving, int(p))
}

// buildGC switches GOGC to buildGCPercent while any list build runs and
// back to the serving value after the last one. Between builds it raises
// the serving value after each collection while the live heap is small
// (heapFloor). The environment's GOGC, if set, is the operator's and is
// left alone.
type buildGC struct {
	set func(int) int // debug.SetGCPercent; a test passes its own

	mu      sync.Mutex
	builds  int
	serving int    // GOGC between builds; 0 until serve
	live    uint64 // live heap after the last collection; 0: not known yet
	roots   uint64 // live plus the stacks and globals the collector scans
	applied int    // the GOGC set last between builds (serving raised by the floor)
	fixed   bool
}

func newBuildGC(set func(int) int, env string) *buildGC {
	return &buildGC{set: set, fixed: env != ""}
}

// serve sets the GOGC of a server between builds; it applies at once
// unless a build runs.
func (g *buildGC) serve(percent int) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.serving = percent
	if !g.fixed && g.builds == 0 {
		g.apply()
	}
}

// apply sets the serving GOGC, raised for the floor; g.mu is held.
func (g *buildGC) apply() {
	limit := uint64(0)
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 && l > 0 {
		limit = uint64(l)
	}
	g.applied = floorPercent(g.serving, g.live, g.roots, heapFloor, limit)
	g.set(g.applied)
}

// collected records the live heap a collection left (live bytes; roots:
// with the stacks and globals) and moves the serving GOGC to keep the goal
// at the floor. Between builds only: a build's own GOGC is low on purpose.
func (g *buildGC) collected(live, roots uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.live, g.roots = live, roots
	if g.fixed || g.builds > 0 || g.serving == 0 {
		return
	}
	limit := uint64(0)
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 && l > 0 {
		limit = uint64(l)
	}
	if p := floorPercent(g.serving, live, roots, heapFloor, limit); p != g.applied {
		g.applied = p
		g.set(p)
	}
}

// watch calls g.collected after every collection, from the finalizer of
// an object dropped at once and set up again each time, until stop is
// called. The figures are the runtime's own (/gc/heap/live:bytes,
// /gc/scan/stack:bytes, /gc/scan/globals:bytes), read off the query path.
func (g *buildGC) watch() (stop func()) {
	var stopped atomic.Bool
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}
	var arm func()
	arm = func() {
		s := new(gcSentinel)
		runtime.SetFinalizer(s, func(*gcSentinel) {
			if stopped.Load() {
				return
			}
			metrics.Read(sample)
			var v [3]uint64
			for i, s := range sample {
				if s.Value.Kind() == metrics.KindUint64 {
					v[i] = s.Value.Uint64()
				}
			}
			g.collected(v[0], v[0]+v[1]+v[2])
			arm()
		})
	}
	arm()
	return func() { stopped.Store(true) }
}

// gcSentinel is the object watch drops: large enough not to come from
// the tiny allocator, whose objects' finalizers may never run.
type gcSentinel struct {
	_ *byte
	_ [16]byte
}

// enter starts a build; the returned func ends it (once). A nil buildGC
// (a daemon built by a test) does nothing.
func (g *buildGC) enter() func() {
	if g == nil {
		return func() {}
	}
	g.mu.Lock()
	if g.builds == 0 && !g.fixed && g.serving != 0 {
		g.set(buildGCPercent)
	}
	g.builds++
	g.mu.Unlock()
	var once sync.Once
	return func() { once.Do(g.exit) }
}

func (g *buildGC) exit() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.builds--; g.builds == 0 && !g.fixed && g.serving != 0 {
		g.apply()
	}
}

// shown is the GOGC of builds, for the log.
func (g *buildGC) shown() string {
	if g == nil || g.fixed {
		return "GOGC environment variable"
	}
	return strconv.Itoa(buildGCPercent)
}

// floorShown is the heap floor in force under the memory limit limit,
// for the log.
func (g *buildGC) floorShown(limit int64) string {
	if g == nil || g.fixed {
		return "none (GOGC environment variable)"
	}
	f := uint64(heapFloor)
	if limit > 0 && limit != math.MaxInt64 {
		f = min(f, uint64(limit)/2)
	}
	return feeds.ByteSize(f).String()
}

// releaseBuildGarbage collects and returns to the OS the memory a list
// build left behind (the parse buffers and the builder's trie, several
// times the published set). At the serving GOGC an idle server would otherwise
// hold it indefinitely. It runs once per published table, off the query
// path; the collection it forces costs a few milliseconds of marking the
// live heap.
func releaseBuildGarbage() { debug.FreeOSMemory() }
