package feeds

import (
	"bytes"
	"io"
)

// Format names as written in the config's "format:" key.
const (
	FormatAuto    = "auto"
	FormatDomains = "domains"
	FormatHosts   = "hosts"
	FormatAdblock = "adblock"
	FormatRPZ     = "rpz"
)

// Format parses one list syntax, so the loader, tests and fuzzing treat
// every syntax alike.
type Format interface {
	// Name is the config spelling, e.g. "hosts".
	Name() string
	// Parse streams r, handing each rule to emit and each bad (or skipped)
	// line to reject. Only a read error is returned; bad lines never are.
	Parse(r io.Reader, emit func(Entry), reject func(LineError)) (Stats, error)
}

// ParseFunc is the signature of the Parse* functions.
type ParseFunc func(r io.Reader, emit func(Entry), reject func(LineError)) (Stats, error)

type funcFormat struct {
	name  string
	parse ParseFunc
}

func (f funcFormat) Name() string { return f.name }

func (f funcFormat) Parse(r io.Reader, emit func(Entry), reject func(LineError)) (Stats, error) {
	return f.parse(r, emit, reject)
}

// formats is the read-only table of concrete formats, keyed by config name.
var formats = map[string]Format{
	FormatDomains: funcFormat{FormatDomains, ParseDomains},
	FormatHosts:   funcFormat{FormatHosts, ParseHosts},
	FormatAdblock: funcFormat{FormatAdblock, ParseAdblock},
	FormatRPZ:     funcFormat{FormatRPZ, ParseRPZ},
	FormatSTIX:    funcFormat{FormatSTIX, ParseSTIX},
	FormatMISP:    funcFormat{FormatMISP, ParseMISP},
}

// LookupFormat returns the Format for a config name other than "auto".
func LookupFormat(name string) (Format, bool) {
	f, ok := formats[name]
	return f, ok
}

// detectLines is how many data lines DetectFormat looks at.
const detectLines = 20

// DetectFormat guesses the format of a list from its first bytes (the
// loader passes up to MaxLineLen), by what most of the first data lines
// look like:
//
//   - rpz: a $ORIGIN or $TTL directive, or records ("name [ttl] [IN] CNAME .")
//   - adblock: "[Adblock ...]", "!" comments, "||name^" or "@@" rules (a
//     quarter of the lines is enough: adblock lists mix in bare names)
//   - hosts: an IP address followed by a name (a lone IP address does not
//     count, so a domain list with IP junk stays "domains")
//   - domains otherwise.
func DetectFormat(peek []byte) string {
	peek = bytes.TrimPrefix(peek, utf8BOM)
	seen, hosts, adblock, rpz := 0, 0, 0, 0
	for len(peek) > 0 && seen < detectLines {
		line := peek
		if i := bytes.IndexByte(peek, '\n'); i >= 0 {
			line, peek = peek[:i], peek[i+1:]
		} else {
			peek = nil
		}
		t := trimBlank(line)
		if len(t) == 0 || t[0] == ';' || t[0] == '#' && !cosmetic(t) {
			continue
		}
		seen++
		switch {
		case hasPrefixFold(t, "$ORIGIN") || hasPrefixFold(t, "$TTL"):
			return FormatRPZ
		case t[0] == '!' || t[0] == '[' || bytes.HasPrefix(t, []byte("||")) || bytes.HasPrefix(t, []byte("@@")) || cosmetic(t):
			adblock++
		default:
			if addr, rest := nextField(data(t)); len(rest) > 0 && hostsAddr(addr) {
				hosts++
			} else if zoneRecord(t) {
				rpz++
			}
		}
	}
	switch {
	case seen == 0:
		return FormatDomains
	case 2*rpz > seen:
		return FormatRPZ
	case adblock > 0 && 4*adblock >= seen:
		return FormatAdblock
	case 2*hosts > seen:
		return FormatHosts
	}
	return FormatDomains
}

// zoneRecord reports whether a line looks like a master-file record: a
// record type among its second to fourth fields, after an optional TTL and
// class.
func zoneRecord(line []byte) bool {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	_, rest := nextField(line)
	for n := 0; n < 3 && len(rest) > 0; n++ {
		var f []byte
		f, rest = nextField(rest)
		switch {
		case ttlToken(f), bytes.EqualFold(f, []byte("IN")):
			continue
		}
		switch string(bytes.ToUpper(f)) {
		case "CNAME", "SOA", "NS", "A", "AAAA", "TXT", "DNAME", "MX":
			return true
		}
		return false
	}
	return false
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && bytes.EqualFold(b[:len(prefix)], []byte(prefix))
}
