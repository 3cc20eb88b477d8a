package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/internal/testfile"
)

func TestSysmonEnv(t *testing.T) {
	const want = "GODEBUG=" + sysmonGODEBUG
	tests := []struct {
		name   string
		env    []string
		want   []string
		reexec bool
	}{
		{"no GODEBUG", []string{"PATH=/bin", "HOME=/root"}, []string{"PATH=/bin", "HOME=/root", want}, true},
		{"empty GODEBUG", []string{"GODEBUG=", "PATH=/bin"}, []string{want, "PATH=/bin"}, true},
		{"other settings kept", []string{"GODEBUG=gctrace=1,madvdontneed=1"},
			[]string{"GODEBUG=gctrace=1,madvdontneed=1," + sysmonGODEBUG}, true},
		{"operator's schedtrace", []string{"GODEBUG=schedtrace=0", "PATH=/bin"}, []string{"GODEBUG=schedtrace=0", "PATH=/bin"}, false},
		{"after the re-exec", []string{"GODEBUG=gctrace=1, " + sysmonGODEBUG}, []string{"GODEBUG=gctrace=1, " + sysmonGODEBUG}, false},
		{"a variable merely named like it", []string{"XGODEBUG=schedtrace=1"}, []string{"XGODEBUG=schedtrace=1", want}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reexec := sysmonEnv(tt.env)
			if reexec != tt.reexec || !slices.Equal(got, tt.want) {
				t.Errorf("sysmonEnv(%q) = %q, %v; want %q, %v", tt.env, got, reexec, tt.want, tt.reexec)
			}
		})
	}
}

func TestServing(t *testing.T) {
	tests := []struct {
		args []string
		want bool
	}{
		{nil, true},
		{[]string{"serve"}, true},
		{[]string{"serve", "-config", "x.yaml"}, true},
		{[]string{"-config", "x.yaml"}, true},
		{[]string{"check", "-config", "x.yaml"}, false},
		{[]string{"explain", "evil.example"}, false},
		{[]string{"version"}, false},
	}
	for _, tt := range tests {
		if got := serving(tt.args); got != tt.want {
			t.Errorf("serving(%q) = %v, want %v", tt.args, got, tt.want)
		}
	}
}

// TestBinaryKeepsSysmonAwake runs the binary and reads the environment the
// serving process (same PID after the re-exec) ended up with: our GODEBUG
// setting by default, the operator's when GODEBUG already sets schedtrace.
func TestBinaryKeepsSysmonAwake(t *testing.T) {
	if _, err := os.Stat("/proc/self/environ"); err != nil {
		t.Skip("no /proc to read a process's environment from")
	}
	up := dnstest.Start(t, dnstest.WithWildcard())
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"default", nil, "GODEBUG=" + sysmonGODEBUG},
		{"operator's GODEBUG extended", []string{"GODEBUG=gctrace=0"}, "GODEBUG=gctrace=0," + sysmonGODEBUG},
		{"operator's schedtrace kept", []string{"GODEBUG=schedtrace=0"}, "GODEBUG=schedtrace=0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newE2EHost(t)
			admin := h.admin
			cfg := filepath.Join(t.TempDir(), "bulwark.yaml")
			body := h.forwarding(up.Addr)
			writeFile(t, cfg, body)
			p := startBulwarkEnv(t, admin, tt.env, "-config", cfg)
			raw := testfile.Read(t, fmt.Sprintf("/proc/%d/environ", p.cmd.Process.Pid))
			var godebug []string
			for _, kv := range strings.Split(string(raw), "\x00") {
				if strings.HasPrefix(kv, "GODEBUG=") {
					godebug = append(godebug, kv)
				}
			}
			if len(godebug) != 1 || godebug[0] != tt.want {
				t.Errorf("serving process has %q, want [%q]", godebug, tt.want)
			}
		})
	}
}
