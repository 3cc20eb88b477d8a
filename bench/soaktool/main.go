// Command soaktool is the soak test's helper (bench/soak): the pieces a
// 20-minute run needs that dnsperf and the kernel do not give.
//
//	soaktool upstream -listen ADDR          a forwarder's upstream: A 203.0.113.9 for any name
//	soaktool feed -listen ADDR -list FILE   an HTTP blocklist that flaps: good, 500, empty, truncated, slow
//	soaktool flood -server ADDR -rate R     unique random names (cache misses), answers counted
//	soaktool check -server ADDR ...         answers checked for correctness, reloads every 30 s
//
// flood and check print a JSON summary on stdout when their -duration ends.
// Every address must be loopback or in a network namespace the caller made:
// the tool never chooses one itself.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "upstream":
		err = runUpstream(args)
	case "feed":
		err = runFeed(args)
	case "flood":
		err = runFlood(args)
	case "check":
		err = runCheck(args)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soaktool:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: soaktool upstream|feed|flood|check [flags] (see -h of each)")
	os.Exit(2)
}
