package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/bulwark-dns/bulwark/internal/cfgerr"
)

// AdminConfig is the `admin:` section: who may use the admin API's
// endpoints that change state (POST /reload), and the names it may be
// reached by. Its address is listen.admin; the read-only endpoints
// (/metrics, /healthz, /readyz, /lists, /stats, /explain) are open to
// whoever reaches that address under one of those names.
type AdminConfig struct {
	// Token is the bearer token POST /reload requires. "${NAME}" is the
	// environment variable NAME (unset is an error). Without a token (and
	// without TokenFile) POST /reload is accepted from loopback clients
	// only.
	Token string `yaml:"token"`
	// TokenFile holds the token instead (a mounted secret; an absolute
	// path); surrounding white space is ignored. It is read at start and
	// at each reload.
	TokenFile string `yaml:"token_file"`
	// Hosts are the names the admin API may be reached by (the Host
	// header), besides any IP address and "localhost". A request naming
	// another host is refused: that is what a DNS-rebinding web page
	// sends, after pointing its own name at 127.0.0.1. List the names
	// Prometheus or a load balancer use, e.g. ["bulwark-1.example.net"].
	Hosts []string `yaml:"hosts"`
	// Pprof serves Go's profiler at /debug/pprof/ on the admin address,
	// to find where a loaded server spends its time. Off by default: a
	// profile reveals internals and costs CPU while it runs.
	Pprof bool `yaml:"pprof"`
}

// minTokenLen keeps guessable tokens out: a token is compared in constant
// time, but a short one can be brute-forced over the network.
const minTokenLen = 16

var envRef = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)

// ResolveToken returns the token to require, "" when none is configured.
func (c *AdminConfig) ResolveToken() (string, error) {
	var tok string
	switch {
	case c.Token != "" && c.TokenFile != "":
		return "", errors.New("set token or token_file, not both")
	case c.TokenFile != "":
		if !filepath.IsAbs(c.TokenFile) {
			return "", fmt.Errorf("token_file %q must be an absolute path", c.TokenFile)
		}
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return "", fmt.Errorf("token_file: %w", err)
		}
		tok = strings.TrimSpace(string(b))
		if tok == "" {
			return "", fmt.Errorf("token_file %s is empty", c.TokenFile)
		}
	case c.Token != "":
		tok = c.Token
		if m := envRef.FindStringSubmatch(tok); m != nil {
			v, ok := os.LookupEnv(m[1])
			if !ok || strings.TrimSpace(v) == "" {
				return "", fmt.Errorf("token: environment variable %s is not set", m[1])
			}
			tok = strings.TrimSpace(v)
		}
	default:
		return "", nil
	}
	if len(tok) < minTokenLen {
		return "", fmt.Errorf("the token is %d characters long; use at least %d (e.g. openssl rand -hex 32)", len(tok), minTokenLen)
	}
	if strings.ContainsAny(tok, " \t\r\n") {
		return "", errors.New("the token must not contain white space")
	}
	return tok, nil
}

// Validate reports a token that cannot be used and host names that
// cannot be.
func (c *AdminConfig) Validate(path string) []error {
	var errs []error
	if _, err := c.ResolveToken(); err != nil {
		key := "token"
		if c.TokenFile != "" && c.Token == "" {
			key = "token_file"
		}
		errs = append(errs, cfgerr.New(cfgerr.Join(path, key), "%v", err))
	}
	for i, h := range c.Hosts {
		if !hostName.MatchString(h) {
			errs = append(errs, cfgerr.New(cfgerr.Index(cfgerr.Join(path, "hosts"), i), "%q is not a host name (no scheme, port or path: e.g. \"bulwark-1.example.net\")", h))
		}
	}
	return errs
}

// hostName is a DNS host name as a Host header carries it.
var hostName = regexp.MustCompile(`^(?i)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$`)

// AllowsHost reports whether a request's Host header (with or without a
// port) names this admin API: an IP address, localhost, or one of Hosts.
// An empty Host (HTTP/1.0) is no browser's, and allowed.
func (c *AdminConfig) AllowsHost(host string) bool {
	if host == "" {
		return true
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	for _, h := range c.Hosts {
		if strings.EqualFold(strings.TrimSuffix(h, "."), host) {
			return true
		}
	}
	return false
}
