package gopool

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPoolRunsEveryTask runs tasks one after another and all at once; each
// must run exactly once, and every worker must exit once idle.
func TestPoolRunsEveryTask(t *testing.T) {
	tests := []struct {
		name     string
		tasks    int
		parallel bool // each task waits until all have started: one worker each
	}{
		{"one at a time", 100, false},
		{"all at once", 50, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(20 * time.Millisecond)
			var ran atomic.Int64
			var started, done sync.WaitGroup
			started.Add(tt.tasks)
			for range tt.tasks {
				done.Add(1)
				p.Go(func() {
					defer done.Done()
					ran.Add(1)
					started.Done()
					if tt.parallel {
						started.Wait()
					}
				})
				if !tt.parallel {
					done.Wait()
				}
			}
			done.Wait()
			if got := ran.Load(); got != int64(tt.tasks) {
				t.Fatalf("ran %d tasks, want %d", got, tt.tasks)
			}
			if tt.parallel && p.started.Load() != int64(tt.tasks) {
				t.Fatalf("%d concurrent tasks started %d workers, want one each", tt.tasks, p.started.Load())
			}
			p.Wait() // workers exit once idle; a leaked one would hang here
		})
	}
}

// TestPoolReusesWorkers checks the point of the pool: a task handed over
// once the previous one is done runs on the idle worker, not a new one.
func TestPoolReusesWorkers(t *testing.T) {
	p := New(time.Minute)
	done := make(chan struct{})
	task := func() { done <- struct{}{} }
	p.Go(task)
	<-done
	for i := range 100 {
		// The worker is back at its receive soon after its task returns;
		// hand the next task to it directly, as Go does when it can.
		handed := false
		for try := 0; try < 2000 && !handed; try++ {
			select {
			case p.work <- task:
				handed = true
			default:
				time.Sleep(time.Millisecond)
			}
		}
		if !handed {
			t.Fatalf("task %d: no idle worker took it within 2 s", i)
		}
		<-done
		p.Go(task) // and through Go, which must find the same worker
		<-done
	}
	if n := p.started.Load(); n > 2 {
		t.Fatalf("tasks one after another started %d workers, want them reused", n)
	}
}

// TestPoolIdleExit checks that a worker without tasks exits after the idle
// time and a later task starts a new one.
func TestPoolIdleExit(t *testing.T) {
	p := New(10 * time.Millisecond)
	done := make(chan struct{})
	p.Go(func() { close(done) })
	<-done
	p.Wait()
	done = make(chan struct{})
	p.Go(func() { close(done) })
	<-done
	if n := p.started.Load(); n != 2 {
		t.Fatalf("started %d workers, want 2 (the first exited when idle)", n)
	}
	p.Wait()
}

// BenchmarkPool compares handing a task to a reused worker with starting a
// goroutine, both for a task about as deep as a forwarded query (some 60
// frames, 12 KiB of stack).
func BenchmarkPool(b *testing.B) {
	deep := func() { descend(60) }
	b.Run("go", func(b *testing.B) {
		done := make(chan struct{})
		for b.Loop() {
			go func() { deep(); done <- struct{}{} }()
			<-done
		}
	})
	b.Run("pool", func(b *testing.B) {
		p := New(time.Minute)
		done := make(chan struct{})
		for b.Loop() {
			p.Go(func() { deep(); done <- struct{}{} })
			<-done
		}
	})
}

// descend calls itself n deep with a 200-byte frame each.
//
//go:noinline
func descend(n int) byte {
	var frame [200]byte
	frame[n%len(frame)] = byte(n)
	if n == 0 {
		return frame[0]
	}
	return descend(n-1) + frame[n%len(frame)]
}

// TestPoolClose checks that Close ends idle workers at once, busy ones
// when their task returns, and that Go still runs tasks afterwards.
func TestPoolClose(t *testing.T) {
	tests := []struct {
		name string
		idle int // workers waiting for a task at Close
		busy int // workers inside a task at Close
	}{
		{"one idle", 1, 0},
		{"many idle", 8, 0},
		{"busy and idle", 3, 3},
		{"busy only", 0, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(time.Hour)
			var started, finished sync.WaitGroup
			release := make(chan struct{})
			n := tt.idle + tt.busy
			started.Add(n)
			finished.Add(tt.idle)
			for i := range n {
				p.Go(func() {
					started.Done()
					if i < tt.busy {
						<-release
						return
					}
					finished.Done()
				})
			}
			started.Wait()
			finished.Wait()
			p.Close()
			p.Close() // idempotent
			close(release)
			p.Wait() // would take an hour without Close
			done := make(chan struct{})
			p.Go(func() { close(done) })
			<-done
			p.Wait()
		})
	}
}
