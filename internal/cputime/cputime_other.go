//go:build !unix || netbsd || aix

package cputime

// NetBSD and AIX are here too: x/sys has no thread CPU clock for them.

import "time"

func process() time.Duration        { return 0 }
func thread() (time.Duration, bool) { return 0, false }
