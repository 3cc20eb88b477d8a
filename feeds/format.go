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
)

// Format parses one list syntax. Later formats (adblock, RPZ) implement it
// too, so the loader, tests and fuzzing treat every syntax alike.
type Format interface {
	// Name is the config spelling, e.g. "hosts".
	Name() string
	// Parse streams r, handing each rule to emit and each bad line to
	// reject. Only a read error is returned; bad lines never are.
	Parse(r io.Reader, emit func(Entry), reject func(LineError)) (Stats, error)
}

// ParseFunc is the signature of ParseDomains and ParseHosts.
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
}

// LookupFormat returns the Format for a config name other than "auto".
func LookupFormat(name string) (Format, bool) {
	f, ok := formats[name]
	return f, ok
}

// detectLines is how many data lines DetectFormat looks at.
const detectLines = 20

// DetectFormat guesses the format of a list from its first bytes (the
// loader passes up to MaxLineLen): "hosts" if most of the first data lines
// are an IP address followed by a name, else "domains". A lone IP address
// does not count, so a domain list with IP junk stays "domains".
func DetectFormat(peek []byte) string {
	peek = bytes.TrimPrefix(peek, utf8BOM)
	seen, hosts := 0, 0
	for len(peek) > 0 && seen < detectLines {
		line := peek
		if i := bytes.IndexByte(peek, '\n'); i >= 0 {
			line, peek = peek[:i], peek[i+1:]
		} else {
			peek = nil
		}
		d := data(line)
		if len(d) == 0 {
			continue
		}
		seen++
		addr, rest := nextField(d)
		if len(rest) > 0 && hostsAddr(addr) {
			hosts++
		}
	}
	if seen > 0 && 2*hosts > seen {
		return FormatHosts
	}
	return FormatDomains
}
