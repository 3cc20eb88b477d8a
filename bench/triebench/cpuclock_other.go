//go:build !linux

package main

import "time"

// threadCPU is unavailable here; timings fall back to the wall clock.
func threadCPU() (int64, bool) { return 0, false }

// processCPU is unavailable here; CPU figures read 0.
func processCPU() time.Duration { return 0 }
