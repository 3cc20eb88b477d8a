//go:build amd64 || arm64

package blocklist

// prefetch asks the CPU to load the cache line at p, without waiting for
// it. The compile's passes over millions of nodes read tables at random
// places (the dictionary's counters, a bucketed block's children in
// bucket order); an ordinary load ahead does not help them, as a load
// that misses holds up the instructions after it from retiring, and the
// window of those is a few nodes' work. A prefetch is only a hint: it
// neither faults nor waits. Go has no portable intrinsic for it, hence
// the one instruction in assembly.
//
//go:noescape
func prefetch(p *byte)
