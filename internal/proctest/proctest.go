// Package proctest runs a server program for a test — named, knotd,
// unbound, pdns_recursor, the bulwark binary — in the foreground: ready
// once the test's probe says so, killed when the test ends, its output
// kept for the test to read and shown when the test fails. It is the one
// implementation of that start/probe/kill cycle for every such test.
package proctest

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/internal/syncbuf"
)

// Process is one running program.
type Process struct {
	// Cmd is the started command; Output its stdout and stderr together.
	Cmd    *exec.Cmd
	Output *syncbuf.Buffer
	done   chan struct{}
	err    error // Wait's, once done is closed
}

// Start starts cmd, whose output goes to Output, and waits, asking ready
// every 50 ms, until ready reports true. It fails the test if the program
// cannot start, exits first, or is not ready within within. The program is
// killed when the test ends.
func Start(t testing.TB, cmd *exec.Cmd, within time.Duration, ready func() bool) *Process {
	t.Helper()
	p := &Process{Cmd: cmd, Output: &syncbuf.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.Output, p.Output
	name := filepath.Base(cmd.Path)
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.Output.String())
		}
	})
	deadline := time.Now().Add(within)
	for !ready() {
		select {
		case <-p.done:
			t.Fatalf("%s exited (%v) before it was ready:\n%s", name, p.err, p.Output.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %v:\n%s", name, within, p.Output.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p
}

// Exited is closed once the program has exited; Err then returns how.
func (p *Process) Exited() <-chan struct{} { return p.done }

// Err is the program's exit error (nil for status 0), once Exited is
// closed.
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// Stop kills the program, if it still runs, and waits until it has
// exited. It may be called more than once.
func (p *Process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.Cmd.Process.Kill()
	<-p.done
}
