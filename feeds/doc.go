// Package feeds turns configured threat lists into immutable
// blocklist.Tables and keeps them fresh.
//
// A list comes from a Source (a local file, a list bundled in the binary,
// or an HTTP(S) URL fetched with a conditional GET) in a Format (plain
// domains, hosts, adblock, RPZ; detected or named). Each parsed copy is
// kept per list, so the merged Table is rebuilt from copies in memory and
// only a changed list is parsed again.
//
// Real feeds are messy and sometimes broken, so the package is forgiving
// about lines and strict about copies: a bad line is counted, sampled and
// logged and never aborts a load, while a download that fails, is cut
// short, or shrinks suspiciously never replaces the last good copy of its
// list (kept in memory and, for HTTP lists, in a disk cache that serves a
// cold start without network).
//
// Manager does this continuously for the server; Loader reads every list
// once, offline, for `bulwark check` and `bulwark explain`. The package
// knows nothing of the DNS server: it publishes Tables through an
// atomic.Pointer that the resolver's policy reads.
package feeds
