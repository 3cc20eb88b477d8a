package feeds

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// ParseRPZ reads a Response Policy Zone in DNS master-file syntax (RFC 1035
// §5 with $ORIGIN and $TTL; draft-vixie-dnsop-dns-rpz), as BIND, Unbound and
// PowerDNS load it and as Spamhaus and other commercial feeds publish it.
//
// Owner names are relative to $ORIGIN ("@" is the origin) or absolute.
// The trigger is the owner with the zone name removed; the zone name is the
// SOA's owner, else the first $ORIGIN (a later $ORIGIN only changes how
// relative names expand), else the root, so a bare list of records works.
// "name" covers that name only (blocklist.Exact), "*.name" every name
// strictly below it (blocklist.Below). Owners under rpz-client-ip, rpz-ip
// and rpz-nsip are address triggers ("24.0.2.0.192.rpz-ip" is
// 192.0.2.0/24, "48.zz.1.db8.2001.rpz-ip" is 2001:db8:1::/48); owners
// under rpz-nsdname name authoritative servers (Entry.Trigger). Policies
// map onto blocklist actions:
//
//	CNAME .                 NXDOMAIN
//	CNAME *.                NODATA
//	CNAME rpz-passthru.     allow (so does the legacy CNAME to the trigger itself)
//	CNAME rpz-drop.         drop
//	CNAME rpz-tcp-only.     tcp-only (TC=1 over UDP)
//	A / AAAA local data     sinkhole with those addresses (Entry.Addrs)
//	CNAME to another name   local data: the walled-garden rewrite ("*.garden."
//	                        prepends the query name)
//	other local data (TXT)  local data: those records (Entry.Local)
//
// Records outside the origin, malformed records, $INCLUDE and $GENERATE are
// rejected; the zone's own SOA and NS records are ignored. The returned
// error is only ever a read error.
func ParseRPZ(r io.Reader, emit func(Entry), reject func(LineError)) (Stats, error) {
	p := rpzParser{lr: newLineReader(r), emit: emit, reject: reject, origin: ".", zone: "."}
	p.run()
	p.flush()
	p.st.Lines = p.lr.n
	return p.st, p.lr.Err()
}

// rpzParser holds the state of one zone file: the origin, the previous
// owner (for records that omit it) and the policy being gathered for the
// current owner, whose records arrive on consecutive lines.
type rpzParser struct {
	lr     *lineReader
	emit   func(Entry)
	reject func(LineError)
	st     Stats

	origin    string // $ORIGIN: absolute, lower case, "." for the root
	zone      string // the zone apex triggers are relative to
	zoneSet   int    // zoneNone, zoneByOrigin or zoneBySOA
	prevOwner string // absolute owner of the last record

	// the record being assembled (it may span lines inside parentheses)
	buf      []byte
	toks     [][2]int // token offsets in buf
	quoted   []bool
	depth    int
	blank    bool // the record's first line started with a blank: no owner
	recLine  int
	recStart bool

	pend pendingPolicy
}

// How the zone apex was learnt: the SOA's owner is the apex; failing
// that, the first $ORIGIN (later ones only change how relative names
// expand); failing that, the root, so that a bare list of records works.
const (
	zoneNone = iota
	zoneByOrigin
	zoneBySOA
)

// pendingPolicy is what one trigger's records say so far.
type pendingPolicy struct {
	active  bool
	owner   string // absolute owner it was gathered for
	trigger string // owner relative to the origin, as written in logs
	name    string // canonical name
	scope   blocklist.Scope
	line    int
	kind    blocklist.Trigger
	prefix  netip.Prefix // address triggers
	cnames  []string
	addrs   []netip.Addr
	local   []blocklist.LocalRR
}

func (p *rpzParser) run() {
	for p.lr.next() {
		if p.lr.tooLong {
			p.reject(p.lr.tooLongError())
			p.resetRecord()
			continue
		}
		line := p.lr.line
		if p.depth == 0 {
			p.resetRecord()
			p.recLine = p.lr.n
			p.blank = len(line) > 0 && isBlank(line[0])
		}
		if !p.tokenize(line) {
			p.reject(LineError{Line: p.recLine, Text: clip(trimBlank(line)), Reason: ReasonRPZSyntax})
			p.resetRecord()
			continue
		}
		if p.depth > 0 {
			continue // the record goes on in the next line
		}
		if len(p.toks) > 0 {
			p.record()
		}
	}
	if p.depth > 0 && len(p.toks) > 0 {
		p.reject(LineError{Line: p.recLine, Text: clip(p.buf), Reason: ReasonRPZSyntax})
	}
}

func (p *rpzParser) resetRecord() {
	p.buf, p.toks, p.quoted, p.depth = p.buf[:0], p.toks[:0], p.quoted[:0], 0
}

// tokenize appends line's tokens to the record, honouring quotes, ";"
// comments, parentheses and backslash escapes. It reports false on an
// unbalanced ")" or an unterminated quote.
func (p *rpzParser) tokenize(line []byte) bool {
	i := 0
	for i < len(line) {
		c := line[i]
		switch {
		case isBlank(c):
			i++
		case c == ';':
			return true
		case c == '(':
			p.depth++
			i++
		case c == ')':
			if p.depth == 0 {
				return false
			}
			p.depth--
			i++
		case c == '"':
			j := i + 1
			for j < len(line) && line[j] != '"' {
				if line[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(line) {
				return false
			}
			p.addToken(line[i+1:j], true)
			i = j + 1
		default:
			j := i
			for j < len(line) && !isBlank(line[j]) && line[j] != ';' && line[j] != '(' && line[j] != ')' && line[j] != '"' {
				if line[j] == '\\' && j+1 < len(line) {
					j++
				}
				j++
			}
			p.addToken(line[i:j], false)
			i = j
		}
	}
	return true
}

func (p *rpzParser) addToken(t []byte, quoted bool) {
	start := len(p.buf)
	p.buf = append(p.buf, t...)
	p.toks = append(p.toks, [2]int{start, len(p.buf)})
	p.quoted = append(p.quoted, quoted)
}

func (p *rpzParser) tok(i int) []byte { return p.buf[p.toks[i][0]:p.toks[i][1]] }

// text is the record as written, for rejections.
func (p *rpzParser) text() string {
	var b []byte
	for i := range p.toks {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, p.tok(i)...)
	}
	return clip(b)
}

func (p *rpzParser) fail(reason string) {
	p.reject(LineError{Line: p.recLine, Text: p.text(), Reason: reason})
}

// record handles one complete record or directive.
func (p *rpzParser) record() {
	first := p.tok(0)
	if !p.blank && len(first) > 0 && first[0] == '$' && !p.quoted[0] {
		p.directive(first)
		return
	}
	i := 0
	var owner string
	if p.blank {
		if p.prevOwner == "" {
			p.fail(ReasonRPZSyntax)
			return
		}
		owner = p.prevOwner
	} else {
		owner = p.absolute(first)
		i = 1
	}
	// [ttl] [class] or [class] [ttl], then the type.
	for n := 0; n < 2 && i < len(p.toks); n++ {
		t := p.tok(i)
		switch {
		case ttlToken(t):
			i++
		case bytes.EqualFold(t, []byte("IN")):
			i++
		case classToken(t):
			p.prevOwner = owner
			p.fail(ReasonRPZClass)
			return
		}
	}
	if i >= len(p.toks) {
		p.fail(ReasonRPZSyntax)
		return
	}
	rrtype, ok := typeToken(p.tok(i))
	if !ok {
		p.fail(ReasonRPZSyntax)
		return
	}
	p.prevOwner = owner
	rdata := p.toks[i+1:]
	if rrtype == dns.TypeSOA && p.zoneSet != zoneBySOA {
		p.flush()
		if p.zoneSet == zoneNone { // no $ORIGIN: the zone name is the origin
			p.origin = owner
		}
		p.zone, p.zoneSet = owner, zoneBySOA
	}
	p.policy(owner, rrtype, rdata)
}

// directive handles $ORIGIN, $TTL, and refuses $INCLUDE and $GENERATE: a
// downloaded feed must not make Bulwark read local files, and a partial
// zone would silently drop rules.
func (p *rpzParser) directive(d []byte) {
	switch {
	case bytes.EqualFold(d, []byte("$ORIGIN")):
		if len(p.toks) != 2 {
			p.fail(ReasonRPZSyntax)
			return
		}
		o := p.absolute(p.tok(1))
		if o != "." {
			if _, reason := canonicalName([]byte(o), true); reason != "" {
				p.fail(reason)
				return
			}
		}
		p.origin = o
		if p.zoneSet == zoneNone {
			p.flush()
			p.zone, p.zoneSet = o, zoneByOrigin
		}
	case bytes.EqualFold(d, []byte("$TTL")):
		if len(p.toks) != 2 || !ttlToken(p.tok(1)) {
			p.fail(ReasonRPZSyntax)
		}
	case bytes.EqualFold(d, []byte("$INCLUDE")), bytes.EqualFold(d, []byte("$GENERATE")):
		p.fail(ReasonRPZDirective)
	default:
		p.fail(ReasonRPZSyntax)
	}
}

// absolute returns name as an absolute, lower-case name ending in ".".
func (p *rpzParser) absolute(name []byte) string {
	switch {
	case len(name) == 1 && name[0] == '@':
		return p.origin
	case len(name) > 0 && name[len(name)-1] == '.' && !escapedDot(name):
		return strings.ToLower(string(name))
	case p.origin == ".":
		return strings.ToLower(string(name)) + "."
	}
	return strings.ToLower(string(name)) + "." + p.origin
}

// escapedDot reports whether name's final dot is escaped ("a\.").
func escapedDot(name []byte) bool {
	n := 0
	for i := len(name) - 2; i >= 0 && name[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// policy files one record under its trigger.
func (p *rpzParser) policy(owner string, rrtype uint16, rdata [][2]int) {
	var trigger string
	switch {
	case owner == p.zone:
		return // the zone's own SOA, NS and other apex data
	case p.zone == ".":
		trigger = owner[:len(owner)-1]
	case strings.HasSuffix(owner, "."+p.zone):
		trigger = owner[:len(owner)-len(p.zone)-1]
	default:
		p.fail(ReasonRPZOutOfZone)
		return
	}
	// Check the data before it joins the trigger's policy.
	var cname string
	var addr netip.Addr
	var local blocklist.LocalRR
	switch rrtype {
	case dns.TypeCNAME, dns.TypeA, dns.TypeAAAA:
		if len(rdata) != 1 {
			p.fail(ReasonRPZRdata)
			return
		}
		text := p.buf[rdata[0][0]:rdata[0][1]]
		if rrtype == dns.TypeCNAME {
			cname = p.absolute(text)
			break
		}
		a, err := netip.ParseAddr(string(text))
		if err != nil || a.Zone() != "" || (rrtype == dns.TypeA) != a.Is4() {
			p.fail(ReasonRPZRdata)
			return
		}
		addr = a
	default:
		var ok bool
		if local, ok = p.localData(rrtype, rdata); !ok {
			p.fail(ReasonRPZRdata)
			return
		}
	}
	if !p.pend.active || p.pend.owner != owner {
		p.flush()
		pd, ok := p.newPolicy(owner, trigger)
		if !ok {
			return
		}
		p.pend = pd
	}
	switch {
	case cname != "":
		p.pend.cnames = append(p.pend.cnames, cname)
	case addr.IsValid():
		if !slices.Contains(p.pend.addrs, addr) {
			p.pend.addrs = append(p.pend.addrs, addr)
		}
	default:
		p.pend.local = append(p.pend.local, local)
	}
}

// newPolicy starts gathering the policy of trigger (the owner relative to
// the zone): a name, "*.name", or a name under one of the special
// labels of the other trigger kinds.
func (p *rpzParser) newPolicy(owner, trigger string) (pendingPolicy, bool) {
	pd := pendingPolicy{active: true, owner: owner, trigger: trigger, line: p.recLine,
		cnames: p.pend.cnames[:0], addrs: p.pend.addrs[:0], local: p.pend.local[:0]}
	base := trigger
	if kind, rest, ok := specialTrigger(trigger); ok {
		pd.kind = kind
		if kind != blocklist.TriggerNSDName {
			pfx, ok := rpzPrefix(rest)
			if !ok {
				p.reject(LineError{Line: p.recLine, Text: clip([]byte(trigger)), Reason: ReasonRPZPrefix})
				return pd, false
			}
			pd.prefix = pfx
			return pd, true
		}
		base = rest
	}
	if base == "*" {
		p.fail(ReasonRPZRootPolicy)
		return pd, false
	}
	pd.scope = blocklist.Exact
	if strings.HasPrefix(base, "*.") {
		pd.scope, base = blocklist.Below, base[2:]
	}
	name, reason := canonicalName([]byte(base), true)
	if reason != "" {
		p.reject(LineError{Line: p.recLine, Text: clip([]byte(trigger)), Reason: reason})
		return pd, false
	}
	pd.name = name
	return pd, true
}

// specialTrigger splits a trigger under rpz-client-ip, rpz-ip, rpz-nsdname
// or rpz-nsip into its kind and the labels before that label.
func specialTrigger(trigger string) (blocklist.Trigger, string, bool) {
	i := strings.LastIndexByte(trigger, '.')
	if i < 0 {
		return 0, "", false
	}
	var kind blocklist.Trigger
	switch trigger[i+1:] {
	case "rpz-client-ip":
		kind = blocklist.TriggerClientIP
	case "rpz-ip":
		kind = blocklist.TriggerIP
	case "rpz-nsdname":
		kind = blocklist.TriggerNSDName
	case "rpz-nsip":
		kind = blocklist.TriggerNSIP
	default:
		return 0, "", false
	}
	return kind, trigger[:i], true
}

// rpzPrefix parses the labels of an address trigger: the prefix length,
// then the address with its labels reversed — four decimal octets for
// IPv4, hexadecimal groups for IPv6 with "zz" standing for "::".
func rpzPrefix(s string) (netip.Prefix, bool) {
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return netip.Prefix{}, false
	}
	bits, err := strconv.Atoi(labels[0])
	if err != nil || bits < 0 || labels[0] != strconv.Itoa(bits) {
		return netip.Prefix{}, false
	}
	rev := labels[1:]
	slices.Reverse(rev)
	var text string
	if len(rev) == 4 && !slices.Contains(rev, "zz") && !strings.ContainsAny(s, "abcdef:") {
		text = strings.Join(rev, ".")
	} else {
		for i, l := range rev {
			if l == "zz" {
				rev[i] = ""
			}
		}
		text = strings.Join(rev, ":")
		if strings.HasPrefix(text, ":") {
			text = ":" + text
		}
		if strings.HasSuffix(text, ":") {
			text += ":"
		}
	}
	a, err := netip.ParseAddr(text)
	if err != nil || a.Zone() != "" || bits > a.BitLen() {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, bits).Masked(), true
}

// localData checks one record of local data other than CNAME, A and AAAA
// and returns it with its names made absolute, as it will be answered.
func (p *rpzParser) localData(rrtype uint16, rdata [][2]int) (blocklist.LocalRR, bool) {
	var b strings.Builder
	b.WriteString("x. 0 IN ")
	b.WriteString(dns.TypeToString[rrtype])
	if b.Len() == len("x. 0 IN ") {
		b.WriteString("TYPE" + strconv.Itoa(int(rrtype)))
	}
	for i, t := range rdata {
		b.WriteByte(' ')
		text := p.buf[t[0]:t[1]]
		if p.quoted[len(p.toks)-len(rdata)+i] {
			b.WriteByte('"')
			b.Write(text)
			b.WriteByte('"')
		} else {
			b.Write(text)
		}
	}
	zp := dns.NewZoneParser(strings.NewReader(b.String()), p.origin, "")
	rr, ok := zp.Next()
	if !ok || zp.Err() != nil || rr == nil {
		return blocklist.LocalRR{}, false
	}
	data := strings.TrimPrefix(rr.String(), rr.Header().String())
	if u, ok := rr.(*dns.RFC3597); ok { // a type miekg/dns does not know: RFC 3597 form
		data = strings.TrimSpace(fmt.Sprintf("\\# %d %s", len(u.Rdata)/2, u.Rdata))
	}
	return blocklist.LocalRR{Type: rrtype, Data: data}, true
}

// flush emits the pending trigger's policy.
func (p *rpzParser) flush() {
	pd := &p.pend
	if !pd.active {
		return
	}
	pd.active = false
	e := Entry{Name: pd.name, Scope: pd.scope, Line: pd.line, Trigger: pd.kind, Prefix: pd.prefix}
	switch {
	case len(pd.cnames) > 1 || len(pd.cnames) == 1 && (len(pd.addrs) > 0 || len(pd.local) > 0):
		p.reject(LineError{Line: pd.line, Text: clip([]byte(pd.trigger)), Reason: ReasonRPZConflict})
		return
	case len(pd.cnames) == 1:
		switch t := pd.cnames[0]; {
		case t == ".":
			e.HasAction, e.Action = true, blocklist.ActionNXDomain
		case t == "*.":
			e.HasAction, e.Action = true, blocklist.ActionNoData
		case t == "rpz-passthru." || t == pd.trigger+".":
			e.Allow = true
		case t == "rpz-drop.":
			e.HasAction, e.Action = true, blocklist.ActionDrop
		case t == "rpz-tcp-only.":
			e.HasAction, e.Action = true, blocklist.ActionTCPOnly
		default: // a rewrite, to a walled garden
			e.HasAction, e.Action = true, blocklist.ActionLocal
			e.Local = []blocklist.LocalRR{{Type: dns.TypeCNAME, Data: t}}
		}
	case len(pd.local) > 0:
		e.HasAction, e.Action = true, blocklist.ActionLocal
		e.Local = slices.Clone(pd.local)
		e.Addrs = slices.Clone(pd.addrs)
	default:
		e.HasAction, e.Action = true, blocklist.ActionSinkhole
		e.Addrs = slices.Clone(pd.addrs)
	}
	p.emit(e)
}

// ttlToken reports whether t is a TTL: seconds, or BIND units ("1h30m").
func ttlToken(t []byte) bool {
	if len(t) == 0 || t[0] < '0' || t[0] > '9' {
		return false
	}
	for _, c := range t {
		switch {
		case '0' <= c && c <= '9':
		case strings.IndexByte("smhdwSMHDW", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// classToken reports whether t is a class other than IN.
func classToken(t []byte) bool {
	for _, c := range []string{"CH", "HS", "CS", "NONE", "ANY"} {
		if bytes.EqualFold(t, []byte(c)) {
			return true
		}
	}
	return len(t) > 5 && bytes.EqualFold(t[:5], []byte("CLASS"))
}

// typeToken parses an RR type mnemonic (or TYPEnnn).
func typeToken(t []byte) (uint16, bool) {
	var up [16]byte
	if len(t) > len(up) {
		return 0, false
	}
	for i, c := range t {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		up[i] = c
	}
	s := up[:len(t)]
	if v, ok := dns.StringToType[string(s)]; ok {
		return v, true
	}
	if len(s) > 4 && string(s[:4]) == "TYPE" {
		n := 0
		for _, c := range s[4:] {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
			if n > 65535 {
				return 0, false
			}
		}
		return uint16(n), true
	}
	return 0, false
}
