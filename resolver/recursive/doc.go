// Package recursive resolves names itself, iterating from the root servers,
// so that no third-party resolver sees the queries: the last step of the
// request path when upstream.mode is recursive (see docs/ARCHITECTURE.md).
//
// One client query becomes a bounded walk down the delegation tree:
//
//   - a delegation cache (zone cuts) and an infrastructure cache (server
//     addresses, smoothed RTTs with backoff, EDNS support, lame marks) let
//     later queries start at the closest known zone cut;
//   - every reply is matched to its query (random ID, fresh random source
//     port, exact question, optional 0x20 case) and scrubbed: only records
//     within the bailiwick of the zone asked are believed, glue included;
//   - QNAME minimisation (RFC 9156) shows each server only the labels it
//     needs, with the relaxed fallback to the full name for broken servers;
//   - truncation retries over TCP, FORMERR retries without EDNS;
//   - a work budget (upstream queries, time, nesting depth, chain length)
//     bounds what one client query can cost.
//
// Final answers are not cached here: the cache step above does that. The
// answer carries the whole CNAME/DNAME chain, so the policy step above can
// check every name it passes through.
package recursive
