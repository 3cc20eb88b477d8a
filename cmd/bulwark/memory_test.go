package main

import (
	"runtime"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/bulwark-dns/bulwark/resolver/config"
)

func TestResolveMemoryPolicy(t *testing.T) {
	// cgroup is a root whose /proc/self/cgroup says self and whose limit
	// file holds limit.
	cgroup := func(self, limitFile, limit string) fstest.MapFS {
		return fstest.MapFS{"proc/self/cgroup": {Data: []byte(self)}, limitFile: {Data: []byte(limit)}}
	}
	v2 := cgroup("0::/system.slice/bulwark.service\n", "sys/fs/cgroup/system.slice/bulwark.service/memory.max", "1073741824\n")
	v2max := cgroup("0::/\n", "sys/fs/cgroup/memory.max", "max\n")
	// A container sees its own cgroup at the root.
	container := cgroup("0::/\n", "sys/fs/cgroup/memory.max", "536870912\n")
	v1 := cgroup("4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n", "sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", "268435456\n")
	v1unlimited := cgroup("4:memory:/\n", "sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n")
	garbage := fstest.MapFS{
		"sys/fs/cgroup/memory.max": {Data: []byte("lots\n")},
	}
	noEnv := func(string) string { return "" }
	withEnv := func(k string) string {
		if k == "GOMEMLIMIT" {
			return "300MiB"
		}
		return ""
	}
	for _, tt := range []struct {
		name   string
		limit  string
		env    func(string) string
		root   fstest.MapFS
		want   int64
		origin string
	}{
		{"explicit size wins over the cgroup", "200MiB", withEnv, v2, 200 << 20, "runtime.memory_limit"},
		{"off sets none", "off", noEnv, v2, 0, "runtime.memory_limit: off"},
		{"auto: the environment's GOMEMLIMIT stays", "auto", withEnv, v2, -1, "GOMEMLIMIT environment variable"},
		{"auto: 90% of the own cgroup v2 limit", "auto", noEnv, v2, 1073741824 * 9 / 10, "90% of the cgroup limit 1GiB in /sys/fs/cgroup/system.slice/bulwark.service/memory.max"},
		{"auto: container root cgroup", "", noEnv, container, 536870912 * 9 / 10, "90% of the cgroup limit 512MiB in /sys/fs/cgroup/memory.max"},
		{"auto: cgroup v1", "auto", noEnv, v1, 268435456 * 9 / 10, "90% of the cgroup limit 256MiB in /sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes"},
		{"auto: v2 max is no limit", "auto", noEnv, v2max, 0, "no cgroup limit"},
		{"auto: v1 huge value is no limit", "auto", noEnv, v1unlimited, 0, "no cgroup limit"},
		{"auto: no cgroup at all", "auto", noEnv, fstest.MapFS{}, 0, "no cgroup limit (no cgroup memory controller found)"},
		{"auto: unreadable limit is none, said so", "auto", noEnv, garbage, 0, `no cgroup limit (/sys/fs/cgroup/memory.max holds "lots", not a limit)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rc := config.RuntimeConfig{MemoryLimit: tt.limit}
			rc.SetDefaults()
			if errs := rc.Validate("runtime"); len(errs) > 0 {
				t.Fatal(errs)
			}
			p, err := resolveMemoryPolicy(rc, tt.env, tt.root)
			if err != nil {
				t.Fatal(err)
			}
			if p.limit != tt.want || p.origin != tt.origin {
				t.Errorf("got limit %d from %q, want %d from %q", p.limit, p.origin, tt.want, tt.origin)
			}
		})
	}
}

func TestRuntimeConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		limit string
		ok    bool
	}{
		{"auto", true}, {"off", true}, {"", true}, {"512MiB", true}, {"1GiB", true}, {"2000000000", true},
		{"64K", false}, {"1MiB", false}, {"lots", false}, {"-5", false}, {"50%", false},
	} {
		rc := config.RuntimeConfig{MemoryLimit: tt.limit}
		rc.SetDefaults()
		errs := rc.Validate("runtime")
		if (len(errs) == 0) != tt.ok {
			t.Errorf("memory_limit %q: errors %v, want ok=%v", tt.limit, errs, tt.ok)
		}
		for _, err := range errs {
			if got := err.Error(); len(got) < len("runtime.memory_limit") || got[:len("runtime.memory_limit")] != "runtime.memory_limit" {
				t.Errorf("memory_limit %q: error %q does not name the key", tt.limit, got)
			}
		}
	}
}

// buildGC lowers GOGC while any build runs, restores the serving value
// after the last, applies a new serving value at once only between builds,
// and never touches an environment GOGC.
func TestBuildGC(t *testing.T) {
	type step struct {
		op   string // enter N (N = build id), exit N, serve P
		arg  int
		want []int // SetGCPercent calls so far
	}
	for _, tt := range []struct {
		name  string
		env   string
		steps []step
	}{
		{"one build", "", []step{
			{"serve", 400, []int{400}}, {"enter", 1, []int{400, buildGCPercent}}, {"exit", 1, []int{400, buildGCPercent, 400}},
		}},
		{"overlapping builds", "", []step{
			{"serve", 400, []int{400}}, {"enter", 1, []int{400, buildGCPercent}}, {"enter", 2, []int{400, buildGCPercent}},
			{"exit", 1, []int{400, buildGCPercent}}, {"exit", 2, []int{400, buildGCPercent, 400}},
		}},
		{"a reload during a build waits for its end", "", []step{
			{"serve", 400, []int{400}}, {"enter", 1, []int{400, buildGCPercent}}, {"serve", 200, []int{400, buildGCPercent}},
			{"exit", 1, []int{400, buildGCPercent, 200}},
		}},
		{"an exit twice counts once", "", []step{
			{"serve", 400, []int{400}}, {"enter", 1, []int{400, buildGCPercent}}, {"enter", 2, []int{400, buildGCPercent}},
			{"exit", 1, []int{400, buildGCPercent}}, {"exit", 1, []int{400, buildGCPercent}}, {"exit", 2, []int{400, buildGCPercent, 400}},
		}},
		{"GOGC from the environment is left alone", "150", []step{
			{"serve", 400, nil}, {"enter", 1, nil}, {"exit", 1, nil},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var calls []int
			g := newBuildGC(func(p int) int { calls = append(calls, p); return 0 }, tt.env)
			ends := map[int]func(){}
			for i, s := range tt.steps {
				switch s.op {
				case "serve":
					g.serve(s.arg)
				case "enter":
					ends[s.arg] = g.enter()
				case "exit":
					ends[s.arg]()
				}
				if !slices.Equal(calls, s.want) {
					t.Fatalf("step %d (%s %d): SetGCPercent calls %v, want %v", i, s.op, s.arg, calls, s.want)
				}
			}
		})
	}
}

// floorPercent raises GOGC so that a small live heap's goal is the floor,
// keeps the serving value once the heap is large, and halves a floor the
// memory limit would not leave room for.
func TestFloorPercent(t *testing.T) {
	const mb = 1 << 20
	for _, tt := range []struct {
		name                      string
		serving                   int
		live, roots, floor, limit uint64
		want                      int
	}{
		{"not known yet", 200, 0, 0, 64 * mb, 0, 200},
		{"small heap: goal at the floor", 200, 8 * mb, 8 * mb, 64 * mb, 0, 700},
		{"the stacks and globals count", 200, 1 * mb, 4 * mb, 64 * mb, 0, 1575},
		{"a third of the floor: serving's goal is the floor", 200, 64 * mb / 3, 64 * mb / 3, 64 * mb, 0, 200},
		{"large heap", 200, 100 * mb, 101 * mb, 64 * mb, 0, 200},
		{"the limit halves the floor", 200, 4 * mb, 4 * mb, 64 * mb, 32 * mb, 300},
		{"a small limit: serving alone", 200, 8 * mb, 8 * mb, 64 * mb, 16 * mb, 200},
		{"never below serving", 1000, 8 * mb, 8 * mb, 64 * mb, 0, 1000},
		{"a tiny heap: the runtime's 4 MiB minimum times GOGC stays at the floor", 200, mb / 4, mb / 2, 64 * mb, 0, 1600},
	} {
		if got := floorPercent(tt.serving, tt.live, tt.roots, tt.floor, tt.limit); got != tt.want {
			t.Errorf("%s: floorPercent(%d, %d, %d, %d, %d) = %d, want %d", tt.name, tt.serving, tt.live, tt.roots, tt.floor, tt.limit, got, tt.want)
		}
	}
}

// After a collection the serving GOGC follows the floor, but not while a
// build runs (its low GOGC stays) nor with GOGC from the environment; the
// build's end applies the floor of the last collection.
func TestBuildGCFloor(t *testing.T) {
	const mb = 1 << 20
	floored := floorPercent(gcPercent, 8*mb, 8*mb, heapFloor, 0)
	if floored <= gcPercent {
		t.Fatalf("floorPercent at 8 MB = %d, not above %d: the test needs a floor above 24 MB", floored, gcPercent)
	}
	for _, tt := range []struct {
		name  string
		env   string
		steps func(g *buildGC)
		want  []int
	}{
		{"small heap", "", func(g *buildGC) { g.serve(gcPercent); g.collected(8*mb, 8*mb) }, []int{gcPercent, floored}},
		{"same figure, no call", "", func(g *buildGC) { g.serve(gcPercent); g.collected(8*mb, 8*mb); g.collected(8*mb, 8*mb) }, []int{gcPercent, floored}},
		{"heap grown past the floor", "", func(g *buildGC) { g.serve(gcPercent); g.collected(8*mb, 8*mb); g.collected(heapFloor, heapFloor) }, []int{gcPercent, floored, gcPercent}},
		{"during a build", "", func(g *buildGC) { g.serve(gcPercent); end := g.enter(); g.collected(8*mb, 8*mb); end() }, []int{gcPercent, buildGCPercent, floored}},
		{"before serve", "", func(g *buildGC) { g.collected(8*mb, 8*mb) }, nil},
		{"GOGC from the environment", "150", func(g *buildGC) { g.serve(gcPercent); g.collected(8*mb, 8*mb) }, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var calls []int
			g := newBuildGC(func(p int) int { calls = append(calls, p); return 0 }, tt.env)
			tt.steps(g)
			if !slices.Equal(calls, tt.want) {
				t.Errorf("SetGCPercent calls %v, want %v", calls, tt.want)
			}
		})
	}
}

// watch hears of every collection: after a forced one, collected has run
// with the runtime's live heap figure.
func TestBuildGCWatch(t *testing.T) {
	calls := make(chan int, 100)
	g := newBuildGC(func(p int) int { calls <- p; return 0 }, "")
	g.serve(gcPercent)
	<-calls
	stop := g.watch()
	defer stop()
	for {
		runtime.GC()
		g.mu.Lock()
		live := g.live
		g.mu.Unlock()
		if live > 0 {
			return
		}
		runtime.Gosched()
	}
}
