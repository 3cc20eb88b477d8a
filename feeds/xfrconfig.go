package feeds

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/cfgerr"
)

// schemeAXFR is a zone transfer source: "axfr://HOST[:PORT]/ZONE". The
// name says AXFR because that is what operators call a transfer feed; IXFR
// is used whenever a serial is known (RFC 1995).
const schemeAXFR = "axfr:"

// What an "axfr://" list does once its zone's SOA expire timer has run out
// without any primary confirming the zone (ListConfig.OnExpire).
const (
	// OnExpireKeep keeps enforcing the last zone and raises
	// bulwark_feed_zone_expired: a protective resolver must not drop its
	// protection because a primary is down.
	OnExpireKeep = "keep"
	// OnExpireDrop stops serving the zone, as an authoritative secondary
	// would (RFC 1035 §4.3.5).
	OnExpireDrop = "drop"
)

// TSIGConfig is the `tsig:` key of an "axfr://" list: the key that signs
// its SOA queries and transfers and that NOTIFY messages for its zone must
// carry (RFC 8945).
type TSIGConfig struct {
	// Name is the key name as the primary knows it, e.g. "rpz-key".
	Name string `yaml:"name"`
	// Algorithm is hmac-sha256 (the default), hmac-sha512, hmac-sha384,
	// hmac-sha224 or hmac-sha1.
	Algorithm string `yaml:"algorithm"`
	// Secret is the base64 key; SecretFile reads it from a file instead
	// (relative to the config file), either the bare base64 text or a BIND
	// key clause as tsig-keygen writes it. Exactly one of them is set.
	Secret     string `yaml:"secret"`
	SecretFile string `yaml:"secret_file"`
}

// tsigAlgorithms maps the config spelling onto miekg/dns's.
var tsigAlgorithms = map[string]string{
	"hmac-sha1":   dns.HmacSHA1,
	"hmac-sha224": dns.HmacSHA224,
	"hmac-sha256": dns.HmacSHA256,
	"hmac-sha384": dns.HmacSHA384,
	"hmac-sha512": dns.HmacSHA512,
}

// xfrURL is a parsed "axfr://HOST[:PORT]/ZONE".
type xfrURL struct {
	primary netip.AddrPort
	zone    string // canonical, absolute: "rpz.example."
}

// parseXfrURL checks an "axfr://" source. HOST is an IP address (IPv6 in
// brackets): NOTIFY is accepted from the primaries' addresses only, so a
// name that resolves differently tomorrow has no place here.
func parseXfrURL(spec string) (xfrURL, error) {
	const use = `use "axfr://HOST[:PORT]/ZONE" with HOST an IP address, e.g. "axfr://192.0.2.1/rpz.example"`
	rest := strings.TrimPrefix(spec, schemeAXFR+"//")
	host, zone, ok := strings.Cut(rest, "/")
	if !ok || zone == "" || strings.Contains(zone, "/") {
		return xfrURL{}, fmt.Errorf("%q names no zone; %s", spec, use)
	}
	ap, err := parsePrimary(host)
	if err != nil {
		return xfrURL{}, fmt.Errorf("%q: %v; %s", spec, err, use)
	}
	z, err := canonicalZone(zone)
	if err != nil {
		return xfrURL{}, fmt.Errorf("%q: %v", spec, err)
	}
	return xfrURL{primary: ap, zone: z}, nil
}

// parsePrimary parses "HOST[:PORT]"; the port defaults to 53.
func parsePrimary(s string) (netip.AddrPort, error) {
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		if a.Zone() != "" {
			return netip.AddrPort{}, fmt.Errorf("%q has an interface zone", s)
		}
		return netip.AddrPortFrom(a.Unmap(), 53), nil
	}
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q is not HOST[:PORT]", s)
	}
	a, err := netip.ParseAddr(h)
	if err != nil || a.Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("%q is not an IP address", h)
	}
	port, err := strconv.ParseUint(p, 10, 16)
	if err != nil || port == 0 {
		return netip.AddrPort{}, fmt.Errorf("%q is not a port", p)
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(port)), nil
}

// canonicalZone returns a zone name lower case and absolute.
func canonicalZone(z string) (string, error) {
	z = strings.ToLower(dns.Fqdn(z))
	if _, ok := dns.IsDomainName(z); !ok || z == "." {
		return "", fmt.Errorf("%q is not a zone name", z)
	}
	return z, nil
}

// validateXfr checks the keys only an "axfr://" source takes.
func (c *ListConfig) validateXfr(path, scheme string) []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, key), format, args...))
	}
	if scheme != schemeAXFR {
		if len(c.Primaries) > 0 {
			add("primaries", "only an axfr:// source has primaries (source is %q)", c.Source)
		}
		if c.TSIG != nil {
			add("tsig", "only an axfr:// source uses TSIG (source is %q)", c.Source)
		}
		if c.OnExpire != "" {
			add("on_expire", "only an axfr:// source has an SOA expire timer (source is %q)", c.Source)
		}
		return errs
	}
	switch c.Format {
	case "", FormatAuto, FormatRPZ:
	default:
		add("format", "a zone transfer is a response policy zone; use format rpz (or leave it out), not %q", c.Format)
	}
	switch c.OnExpire {
	case "", OnExpireKeep, OnExpireDrop:
	default:
		add("on_expire", "unknown policy %q; use %s or %s", c.OnExpire, OnExpireKeep, OnExpireDrop)
	}
	for i, p := range c.Primaries {
		if _, err := parsePrimary(p); err != nil {
			errs = append(errs, cfgerr.New(cfgerr.Index(cfgerr.Join(path, "primaries"), i), "%v; use HOST[:PORT] with HOST an IP address", err))
		}
	}
	if t := c.TSIG; t != nil {
		tp := cfgerr.Join(path, "tsig")
		tadd := func(key, format string, args ...any) {
			errs = append(errs, cfgerr.New(cfgerr.Join(tp, key), format, args...))
		}
		if t.Name == "" {
			tadd("name", "must not be empty (the key name the primary knows)")
		} else if _, ok := dns.IsDomainName(t.Name); !ok {
			tadd("name", "%q is not a valid key name", t.Name)
		}
		if _, ok := tsigAlgorithms[strings.ToLower(strings.TrimSuffix(t.Algorithm, "."))]; !ok && t.Algorithm != "" {
			tadd("algorithm", "unknown algorithm %q; use hmac-sha256, hmac-sha512, hmac-sha384, hmac-sha224 or hmac-sha1", t.Algorithm)
		}
		switch {
		case t.Secret == "" && t.SecretFile == "":
			tadd("secret", "set secret (base64) or secret_file")
		case t.Secret != "" && t.SecretFile != "":
			tadd("secret", "set secret or secret_file, not both")
		case t.Secret != "":
			if err := checkSecret(t.Secret); err != nil {
				tadd("secret", "%v", err)
			}
		}
	}
	return errs
}

// tsigKey is a resolved TSIG key, names in miekg/dns's canonical form.
type tsigKey struct {
	name      string // "rpz-key."
	algorithm string // "hmac-sha256."
	secret    string // base64
}

// resolveTSIG returns c's key, reading secret_file (relative to baseDir).
func resolveTSIG(c *TSIGConfig, baseDir string) (*tsigKey, error) {
	if c == nil {
		return nil, nil
	}
	alg := tsigAlgorithms[strings.ToLower(strings.TrimSuffix(c.Algorithm, "."))]
	if c.Algorithm == "" {
		alg = dns.HmacSHA256
	}
	secret := c.Secret
	if c.SecretFile != "" {
		p := resolveFile(c.SecretFile, baseDir)
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("tsig.secret_file: %w", err)
		}
		secret = secretFromFile(string(b))
		if err := checkSecret(secret); err != nil {
			return nil, fmt.Errorf("tsig.secret_file %s: %v", p, err)
		}
	}
	return &tsigKey{name: strings.ToLower(dns.Fqdn(c.Name)), algorithm: alg, secret: secret}, nil
}

// bindSecret finds the secret of a BIND key clause (tsig-keygen output).
var bindSecret = regexp.MustCompile(`secret\s+"([^"]+)"`)

// secretFromFile accepts a bare base64 secret or a BIND key clause.
func secretFromFile(s string) string {
	if m := bindSecret.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return strings.TrimSpace(s)
}

func checkSecret(s string) error {
	b, err := base64.StdEncoding.DecodeString(s)
	switch {
	case err != nil:
		return errors.New("the secret is not valid base64")
	case len(b) < 16:
		return fmt.Errorf("the secret is %d bytes; use at least 16 (tsig-keygen makes 32)", len(b))
	}
	return nil
}
