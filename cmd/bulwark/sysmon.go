package main

import (
	"os"
	"strings"
)

// sysmonGODEBUG is the GODEBUG setting Bulwark serves with unless GODEBUG
// already has a schedtrace setting of its own.
//
// Go's monitor thread (sysmon) parks whenever every P is idle, is woken by
// the next system call, and then polls every 20 µs for at least a
// millisecond (golang/go#18236). A resolver at a steady moderate load goes
// idle between queries thousands of times a second, so it paid for that
// wake-up and polling on nearly every query: at a fixed 10k q/s of the
// bench/run mixed workload on one core it was a quarter to a third of Bulwark's
// CPU time, and it set the p99 latency. With any schedtrace interval set
// sysmon never parks; while nothing needs it, it backs off to one wake-up
// every 10 ms (about 0.4% of a core when idle). The interval is the
// largest the runtime accepts (24.8 days), so the scheduler trace line it
// also enables is printed at most that often (and, with more detail, on a
// fatal error, where it helps).
const sysmonGODEBUG = "schedtrace=2147483647"

// sysmonEnv returns the environment to serve with: env with
// sysmonGODEBUG added to GODEBUG, and ok = false when GODEBUG already
// sets schedtrace (the operator's choice, or this process after the
// re-exec) and env is to be kept as it is.
func sysmonEnv(env []string) (out []string, ok bool) {
	out = make([]string, 0, len(env)+1)
	found := false
	for _, kv := range env {
		v, isGODEBUG := strings.CutPrefix(kv, "GODEBUG=")
		if !isGODEBUG {
			out = append(out, kv)
			continue
		}
		for _, s := range strings.Split(v, ",") {
			if strings.HasPrefix(strings.TrimSpace(s), "schedtrace=") {
				return env, false
			}
		}
		found = true
		if v != "" {
			v += ","
		}
		out = append(out, "GODEBUG="+v+sysmonGODEBUG)
	}
	if !found {
		out = append(out, "GODEBUG="+sysmonGODEBUG)
	}
	return out, true
}

// serving reports whether args (without the program name) run the server,
// the one long-running command.
func serving(args []string) bool {
	return len(args) == 0 || args[0] == "serve" || strings.HasPrefix(args[0], "-")
}

// keepSysmonAwake re-executes the server with sysmonGODEBUG in its
// environment, since the runtime reads schedtrace only at start-up. It
// returns only when there is nothing to do or the exec failed (the reason
// is in the error); the server then runs with Go's default.
func keepSysmonAwake() error {
	if !serving(os.Args[1:]) {
		return nil
	}
	env, ok := sysmonEnv(os.Environ())
	if !ok {
		return nil
	}
	return reexec(env)
}
