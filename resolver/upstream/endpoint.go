package upstream

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// transport is how an upstream is spoken to.
type transport uint8

const (
	transUDP   transport = iota // plain DNS over UDP, TCP when truncated
	transTCP                    // plain DNS over TCP only, connections reused
	transTLS                    // DNS over TLS (RFC 7858)
	transHTTPS                  // DNS over HTTPS (RFC 8484)
)

func (t transport) String() string {
	switch t {
	case transTCP:
		return "tcp"
	case transTLS:
		return "tls"
	case transHTTPS:
		return "https"
	}
	return "udp"
}

// Default ports per transport.
const (
	portDNS   = 53
	portTLS   = 853
	portHTTPS = 443
)

// endpoint is one parsed server address. It is comparable, so two
// spellings of the same server ("9.9.9.9" and "udp://9.9.9.9:53") are
// recognised as one.
type endpoint struct {
	transport transport
	// ip is the address to connect to; the zero Addr when host must be
	// resolved through the bootstrap servers.
	ip   netip.Addr
	port uint16
	// host is the name the TLS certificate must carry (a DNS name, or the
	// IP for IP-only URLs); "" for plain DNS.
	host string
	// url is the DoH request URL, without any @address suffix.
	url string
}

// addrPort is where to connect, valid only when ip is known.
func (e endpoint) addrPort() netip.AddrPort { return netip.AddrPortFrom(e.ip, e.port) }

// needsBootstrap reports whether the host name must be resolved first.
func (e endpoint) needsBootstrap() bool { return !e.ip.IsValid() }

// String is the canonical spelling; parseServer(e.String()) == e.
func (e endpoint) String() string {
	switch e.transport {
	case transTLS:
		s := "tls://" + joinHostPort(e.host, e.port)
		if e.ip.IsValid() && e.ip.String() != e.host {
			s += "@" + e.ip.String()
		}
		return s
	case transHTTPS:
		if e.ip.IsValid() {
			return e.url + "@" + e.ip.String()
		}
		return e.url
	}
	return e.transport.String() + "://" + e.addrPort().String()
}

func joinHostPort(host string, port uint16) string {
	if strings.IndexByte(host, ':') >= 0 {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(int(port))
}

// parseServer is the one place server strings are understood:
//
//	9.9.9.9  9.9.9.9:53  [2620:fe::fe]:53     plain DNS (UDP, TCP on truncation)
//	udp://9.9.9.9[:53]  tcp://9.9.9.9[:53]    plain DNS; tcp:// is TCP only
//	tls://dns.quad9.net[:853]@9.9.9.9[:853]   DoT, certificate name dns.quad9.net
//	tls://9.9.9.9[:853]                       DoT, certificate must list the IP
//	https://dns.quad9.net/dns-query@9.9.9.9   DoH; path defaults to /dns-query
//
// The @address is where to connect; without it a host name is resolved
// through upstream.bootstrap (never the system resolver, which may be us).
func parseServer(s string) (endpoint, error) {
	if s == "" {
		return endpoint{}, fmt.Errorf("empty server address")
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		ap, err := parsePlain(s, portDNS)
		if err != nil {
			return endpoint{}, err
		}
		return endpoint{transport: transUDP, ip: ap.Addr(), port: ap.Port()}, nil
	}
	switch strings.ToLower(scheme) {
	case "udp", "tcp":
		if strings.ContainsAny(rest, "/?#@") {
			return endpoint{}, fmt.Errorf("%q: a %s:// server is only an address and optional port, e.g. %s://9.9.9.9:53", s, scheme, scheme)
		}
		ap, err := parsePlain(rest, portDNS)
		if err != nil {
			return endpoint{}, fmt.Errorf("%q: %w", s, err)
		}
		t := transUDP
		if strings.EqualFold(scheme, "tcp") {
			t = transTCP
		}
		return endpoint{transport: t, ip: ap.Addr(), port: ap.Port()}, nil
	case "tls":
		ep, err := parseTLS(rest)
		if err != nil {
			return endpoint{}, fmt.Errorf("%q: %w", s, err)
		}
		return ep, nil
	case "https":
		ep, err := parseHTTPS(rest)
		if err != nil {
			return endpoint{}, fmt.Errorf("%q: %w", s, err)
		}
		return ep, nil
	case "http":
		return endpoint{}, fmt.Errorf("%q: DNS over HTTPS needs https://; plain http:// would expose every query", s)
	}
	return endpoint{}, fmt.Errorf("%q: unknown scheme %q; use udp://, tcp://, tls:// or https:// (or a bare ip[:port])", s, scheme)
}

// parsePlain parses "ip", "ip:port", "[v6]:port" or "[v6]".
func parsePlain(s string, defPort uint16) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		a, aerr := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
		if aerr != nil || (a.Is6() && strings.HasPrefix(s, "[") != strings.HasSuffix(s, "]")) {
			return netip.AddrPort{}, fmt.Errorf("%q is not an IP address with optional port (e.g. 9.9.9.9, 9.9.9.9:53, [2620:fe::fe]:53); host names are not resolved", s)
		}
		ap = netip.AddrPortFrom(a, defPort)
	}
	if err := checkAddr(s, ap); err != nil {
		return netip.AddrPort{}, err
	}
	return ap, nil
}

func checkAddr(s string, ap netip.AddrPort) error {
	switch a := ap.Addr(); {
	case ap.Port() == 0:
		return fmt.Errorf("%q: port 0 is not a server port", s)
	case a.Zone() != "":
		return fmt.Errorf("%q: zoned (link-local) addresses are not supported", s)
	case a.IsUnspecified() || a.IsMulticast():
		return fmt.Errorf("%q: %s cannot be an upstream server", s, a)
	}
	return nil
}

// cutAddress splits a trailing "@ip[:port]" off s, if s has one.
func cutAddress(s string) (rest string, ap netip.AddrPort, hasPort, ok bool, err error) {
	i := strings.LastIndexByte(s, '@')
	if i < 0 {
		return s, netip.AddrPort{}, false, false, nil
	}
	at := s[i+1:]
	if ap, err := netip.ParseAddrPort(at); err == nil {
		return s[:i], ap, true, true, checkAddr(at, ap)
	}
	a, aerr := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(at, "["), "]"))
	if aerr != nil {
		return s, netip.AddrPort{}, false, false, nil
	}
	ap = netip.AddrPortFrom(a, 1) // port checked by the caller
	return s[:i], ap, false, true, checkAddr(at, ap)
}

// mergePort settles the port given after the name, after the @address,
// both (they must agree) or neither (def).
func mergePort(namePort string, ap netip.AddrPort, atPort bool, def uint16) (uint16, error) {
	p := def
	if namePort != "" {
		n, err := strconv.ParseUint(namePort, 10, 16)
		if err != nil || n == 0 {
			return 0, fmt.Errorf("bad port %q", namePort)
		}
		p = uint16(n)
	}
	if atPort {
		if namePort != "" && ap.Port() != p {
			return 0, fmt.Errorf("two different ports (%d and %d); give the port once", p, ap.Port())
		}
		p = ap.Port()
	}
	return p, nil
}

// parseTLS parses what follows "tls://".
func parseTLS(rest string) (endpoint, error) {
	rest, at, atPort, hasAt, err := cutAddress(rest)
	if err != nil {
		return endpoint{}, err
	}
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		return endpoint{}, fmt.Errorf("%q after @ is not an IP address (the address to connect to)", rest[i+1:])
	}
	if strings.ContainsAny(rest, "/?#") {
		return endpoint{}, fmt.Errorf("a tls:// server is NAME[:PORT][@IP[:PORT]], e.g. tls://dns.quad9.net@9.9.9.9")
	}
	host, port := rest, ""
	if h, p, err := splitHostPort(rest); err == nil {
		host, port = h, p
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	p, err := mergePort(port, at, atPort, portTLS)
	if err != nil {
		return endpoint{}, err
	}
	ep := endpoint{transport: transTLS, port: p}
	if hasAt {
		ep.ip = at.Addr()
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if err := checkAddr(host, netip.AddrPortFrom(a, p)); err != nil {
			return endpoint{}, err
		}
		ep.host = a.String()
		if !hasAt {
			ep.ip = a
		}
		return ep, nil
	}
	if ep.host, err = checkHostName(host); err != nil {
		return endpoint{}, err
	}
	return ep, nil
}

// splitHostPort is net.SplitHostPort that insists on a port.
func splitHostPort(s string) (host, port string, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]:")
		if end < 0 {
			return "", "", fmt.Errorf("no port")
		}
		return s[1:end], s[end+2:], nil
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 || strings.IndexByte(s[:i], ':') >= 0 {
		return "", "", fmt.Errorf("no port")
	}
	return s[:i], s[i+1:], nil
}

// checkHostName accepts a host name a certificate can carry: ASCII
// letters, digits, hyphens and dots, at least one dot-separated label, and
// a TLD that is not all digits (a mistyped IP address). It returns it
// lower-cased without a trailing dot.
func checkHostName(h string) (string, error) {
	h = strings.TrimSuffix(strings.ToLower(strings.TrimPrefix(strings.TrimSuffix(h, "]"), "[")), ".")
	if h == "" {
		return "", fmt.Errorf("no host name")
	}
	if len(h) > 253 {
		return "", fmt.Errorf("host name longer than 253 characters")
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return "", fmt.Errorf("%q is not a valid host name (empty or over-long label)", h)
		}
		for _, c := range []byte(label) {
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				if c >= 0x80 {
					return "", fmt.Errorf("%q: write internationalised names in their xn-- (A-label) form", h)
				}
				return "", fmt.Errorf("%q is not a valid host name (character %q)", h, c)
			}
		}
	}
	tld := h[strings.LastIndexByte(h, '.')+1:]
	if strings.Trim(tld, "0123456789") == "" {
		return "", fmt.Errorf("%q is neither an IP address nor a host name", h)
	}
	return h, nil
}

// parseHTTPS parses what follows "https://".
func parseHTTPS(rest string) (endpoint, error) {
	rest, at, atPort, hasAt, err := cutAddress(rest)
	if err != nil {
		return endpoint{}, err
	}
	// An RFC 8484 URI template's variable part; GET adds ?dns= itself.
	rest = strings.TrimSuffix(rest, "{?dns}")
	u, err := url.Parse("https://" + rest)
	if err != nil {
		return endpoint{}, fmt.Errorf("not a URL: %v", err)
	}
	switch {
	case u.User != nil:
		return endpoint{}, fmt.Errorf("user info is not allowed; to give the server's address, end the URL with @IP, e.g. https://dns.quad9.net/dns-query@9.9.9.9")
	case u.Fragment != "" || strings.Contains(rest, "#"):
		return endpoint{}, fmt.Errorf("a DoH URL has no #fragment")
	case u.Host == "":
		return endpoint{}, fmt.Errorf("no host in the URL")
	case strings.ContainsAny(u.RawQuery, "{}"):
		return endpoint{}, fmt.Errorf("only the {?dns} URI template is understood")
	}
	p, err := mergePort(u.Port(), at, atPort, portHTTPS)
	if err != nil {
		return endpoint{}, err
	}
	ep := endpoint{transport: transHTTPS, port: p}
	if hasAt {
		ep.ip = at.Addr()
	}
	if a, err := netip.ParseAddr(u.Hostname()); err == nil {
		if err := checkAddr(u.Hostname(), netip.AddrPortFrom(a, p)); err != nil {
			return endpoint{}, err
		}
		ep.host = a.String()
		if !hasAt {
			ep.ip = a
		}
	} else if ep.host, err = checkHostName(u.Hostname()); err != nil {
		return endpoint{}, err
	}
	if u.Path == "" {
		u.Path = "/dns-query"
	}
	u.Host = joinHostPort(ep.host, p)
	if p == portHTTPS {
		u.Host = ep.host
		if strings.IndexByte(ep.host, ':') >= 0 {
			u.Host = "[" + ep.host + "]"
		}
	}
	u.ForceQuery = false
	ep.url = u.String()
	return ep, nil
}
