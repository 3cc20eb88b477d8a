// Package cache is the cache step of Bulwark's request path (see docs/ARCHITECTURE.md):
// a resolver.Resolver that answers repeated questions from memory and
// forwards the rest to the next step, with
//
//   - TTL-correct answers (aged by their time in the cache, clamped),
//   - negative caching per RFC 2308 and brief SERVFAIL caching (§7),
//   - prefetch of popular entries shortly before they expire,
//   - serve-stale per RFC 8767 when the next step fails,
//   - coalescing of identical questions in flight into one upstream query.
//
// The cache knows nothing of blocklists: the policy step above it answers
// blocked names before they reach it, and checks every answer it returns.
package cache
