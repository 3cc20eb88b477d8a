// Command bulwark is the protective DNS resolver: `bulwark [serve]` runs it
// (SIGHUP or POST /reload reloads its config), `bulwark check` validates a
// config, `bulwark explain` says why a name is answered the way it is.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `Usage:
  bulwark [serve] [-config FILE]                serve DNS (the embedded default config without -config);
                                                SIGHUP reloads FILE
  bulwark check [-config FILE]                  validate FILE and its local lists; exit 1 listing every error
  bulwark explain [-config FILE] [-json] NAME   how NAME would be answered: the deciding rule, its list
                                                and line, and the rules that matched but lost
  bulwark version                               print the version
`

func main() {
	if err := keepSysmonAwake(); err != nil {
		fmt.Fprintf(os.Stderr, "bulwark: serving with Go's default sysmon: re-exec with GODEBUG=%s failed: %v\n", sysmonGODEBUG, err)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent) // applyMemoryPolicy also sets the memory limit once the config is read
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, hup))
}

// run is main without the process: it returns the exit code, so tests can
// drive every subcommand in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, hup <-chan os.Signal) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serveCmd(ctx, args, stdout, stderr, hup)
	case "check":
		return checkCmd(ctx, args, stdout, stderr)
	case "explain":
		return explainCmd(ctx, args, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "bulwark", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "bulwark: unknown command %q\n%s", cmd, usage)
	return 2
}
