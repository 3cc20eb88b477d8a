package feeds

import (
	"bytes"
	"io"
	"net/netip"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// ParseHosts reads a hosts-format list: an IP address, then one or more
// names, e.g. "0.0.0.0 evil.example www.evil.example". The address is
// checked but otherwise ignored (a block list blocks the names, whatever
// sink they point at). Every name is a Subtree rule. Comments, CRLF, a BOM,
// tabs, case and trailing dots are handled as in ParseDomains; the usual
// localhost boilerplate (localhost, broadcasthost, ip6-*, "0.0.0.0 0.0.0.0")
// is skipped and counted in Stats.Skipped.
//
// Each bad name (or line) is passed to reject and parsing continues; the
// returned error is only ever a read error.
func ParseHosts(r io.Reader, emit func(Entry), reject func(LineError)) (Stats, error) {
	return parseLines(r, reject, func(n int, raw []byte, st *Stats, a *nameArena) {
		d := data(raw)
		if len(d) == 0 {
			return
		}
		addr, names := nextField(d)
		switch {
		case !hostsAddr(addr):
			reject(LineError{Line: n, Text: clip(d), Reason: ReasonBadHostsAddr})
		case len(names) == 0:
			reject(LineError{Line: n, Text: clip(d), Reason: ReasonMissingName})
		default:
			hostsNames(n, names, a, emit, reject, st)
		}
	})
}

// hostsNames handles the names of one hosts line (after its address):
// boilerplate is counted in st.Skipped, wildcards and invalid names are
// rejected, the rest are Subtree rules.
func hostsNames(line int, names []byte, a *nameArena, emit func(Entry), reject func(LineError), st *Stats) {
	for len(names) > 0 {
		var tok []byte
		tok, names = nextField(names)
		if hostsBoilerplate(tok) {
			st.Skipped++
			continue
		}
		if hasPair(tok, '*', '.') {
			reject(LineError{Line: line, Text: clip(tok), Reason: ReasonWildcard})
			continue
		}
		emitName(line, tok, tok, a, blocklist.Subtree, false, emit, reject)
	}
}

// hostsAddr reports whether b is a valid hosts-file address, avoiding an
// allocation for the sink addresses nearly every line uses.
func hostsAddr(b []byte) bool {
	switch string(b) {
	case "0.0.0.0", "127.0.0.1", "::", "::1":
		return true
	}
	_, err := netip.ParseAddr(string(b))
	return err == nil
}

// hostsBoilerplate reports whether name is one of the entries every hosts
// file carries for the machine itself; they are not threats and must not be
// rejected as single-label noise.
func hostsBoilerplate(name []byte) bool {
	name = bytes.TrimSuffix(name, []byte{'.'})
	if len(name) > len("localhost.localdomain") {
		return false
	}
	var buf [32]byte
	lower := buf[:0]
	for _, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower = append(lower, c)
	}
	switch string(lower) {
	case "localhost", "localhost.localdomain", "local", "broadcasthost",
		"ip6-localhost", "ip6-loopback", "ip6-localnet", "ip6-mcastprefix",
		"ip6-allnodes", "ip6-allrouters", "ip6-allhosts", "0.0.0.0":
		return true
	}
	return false
}
