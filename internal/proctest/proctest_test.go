package proctest

import (
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// fatalTB records the first Fatalf and ends the goroutine, as the testing
// package does, so that Start's failures can be tested.
type fatalTB struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func TestStart(t *testing.T) {
	for _, tt := range []struct {
		name    string
		args    []string
		ready   bool
		within  time.Duration
		fatal   []string // what the failure says; nil: Start returns
		exitErr bool     // the program's exit is an error (killed, or status != 0)
		output  string
	}{
		{name: "ready at once, killed at Stop", args: []string{"sleep", "60"}, ready: true, within: time.Minute, exitErr: true},
		{name: "exits cleanly", args: []string{"sh", "-c", "echo done"}, ready: true, within: time.Minute, output: "done\n"},
		{name: "exits before it is ready", args: []string{"sh", "-c", "echo boom >&2; exit 3"}, within: time.Minute,
			fatal: []string{"sh exited", "exit status 3", "boom"}},
		{name: "never ready", args: []string{"sleep", "60"}, within: 100 * time.Millisecond, fatal: []string{"sleep not ready after 100ms"}},
		{name: "cannot start", args: []string{"/nonexistent/program"}, within: time.Minute, fatal: []string{"program:"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ft := &fatalTB{TB: t}
			var p *Process
			done := make(chan struct{})
			go func() {
				defer close(done)
				p = Start(ft, exec.Command(tt.args[0], tt.args[1:]...), tt.within, func() bool { return tt.ready })
			}()
			<-done
			if tt.fatal != nil {
				if p != nil {
					t.Fatal("Start returned; want a failure")
				}
				for _, w := range tt.fatal {
					if !strings.Contains(ft.msg, w) {
						t.Errorf("failure %q lacks %q", ft.msg, w)
					}
				}
				return
			}
			if ft.msg != "" {
				t.Fatalf("Start failed: %s", ft.msg)
			}
			if tt.exitErr {
				p.Stop()
			}
			<-p.Exited()
			if err := p.Err(); (err != nil) != tt.exitErr {
				t.Errorf("exit error %v, want an error: %v", err, tt.exitErr)
			}
			p.Stop() // a second Stop returns at once
			if got := p.Output.String(); got != tt.output {
				t.Errorf("output %q, want %q", got, tt.output)
			}
		})
	}
}
