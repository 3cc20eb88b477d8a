package resolver

import (
	"crypto/tls"
	"net/netip"
	"os"
	"time"

	"github.com/bulwark-dns/bulwark/internal/cfgerr"
	"github.com/bulwark-dns/bulwark/internal/yamlx"
	"github.com/bulwark-dns/bulwark/resolver/proxyproto"
	"github.com/bulwark-dns/bulwark/resolver/rcvbuf"
)

// ListenConfig is the `listen:` section: where clients and operators reach
// Bulwark.
type ListenConfig struct {
	// DNS lists the addresses served over both UDP and TCP.
	DNS []string `yaml:"dns"`
	// TLS lists the DNS-over-TLS addresses (RFC 7858, usually port 853).
	TLS []string `yaml:"tls"`
	// HTTPS lists the DNS-over-HTTPS addresses (RFC 8484, /dns-query).
	HTTPS []string `yaml:"https"`
	// CertFile and KeyFile are the PEM certificate chain and key for TLS
	// and HTTPS; they are re-read on SIGHUP.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// Admin is the HTTP address of /metrics, /healthz and /readyz; empty
	// disables it.
	Admin string `yaml:"admin"`
	// TCPIdleTimeout closes a TCP connection that sent nothing for this long
	// (RFC 7766 §6.2.3).
	TCPIdleTimeout time.Duration `yaml:"tcp_idle_timeout"`
	// TCPReadTimeout bounds how long one query may take to arrive once
	// its first byte has, so a client trickling bytes (slowloris) is cut off.
	TCPReadTimeout time.Duration `yaml:"tcp_read_timeout"`
	// MaxTCPConns bounds open TCP, DoT and DoH connections together; past
	// it, new connections are closed at once.
	MaxTCPConns int `yaml:"max_tcp_conns"`
	// MaxTCPConnsPerClient bounds the TCP, DoT and DoH connections one
	// client (an IPv4 address, an IPv6 /64) holds at once, so that one
	// host cannot take every slot of MaxTCPConns.
	MaxTCPConnsPerClient int `yaml:"max_tcp_conns_per_client"`
	// TCPMaxQueries closes a TCP or DoT connection after this many queries
	// (default 10000; -1: no limit), so one client cannot hold a
	// connection forever.
	TCPMaxQueries int `yaml:"tcp_max_queries"`
	// UDPSize is the largest UDP answer Bulwark sends, whatever a client
	// advertises (DNS flag day 2020 recommends 1232).
	UDPSize int `yaml:"udp_size"`
	// MaxInflight bounds the queries being answered at once; past it, new
	// UDP queries are dropped rather than queued without limit.
	MaxInflight int `yaml:"max_inflight"`
	// ProxyProtocol names the load balancers whose packets and
	// connections carry a PROXY header with the real client.
	ProxyProtocol proxyproto.Config `yaml:"proxy_protocol"`
	// UDPRcvbuf is each UDP socket's receive buffer in bytes: the backlog
	// the kernel keeps while the server is busy (see resolver/rcvbuf).
	UDPRcvbuf int `yaml:"udp_rcvbuf"`
}

// DefaultUDPRcvbuf is listen.udp_rcvbuf's default (see rcvbuf.Default).
const DefaultUDPRcvbuf = rcvbuf.Default

// SetDefaults fills in unset values.
func (c *ListenConfig) SetDefaults() {
	yamlx.Defaults(c, ListenConfig{
		TCPIdleTimeout:       10 * time.Second,
		TCPReadTimeout:       2 * time.Second,
		MaxTCPConns:          1000,
		MaxTCPConnsPerClient: DefaultMaxTCPConnsPerClient,
		TCPMaxQueries:        DefaultTCPMaxQueries,
		UDPSize:              1232,
		MaxInflight:          20000,
		UDPRcvbuf:            DefaultUDPRcvbuf,
	})
	c.ProxyProtocol.SetDefaults()
}

// Validate reports every invalid value in the section.
func (c *ListenConfig) Validate(path string) []error {
	var errs []error
	if len(c.DNS)+len(c.TLS)+len(c.HTTPS) == 0 {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "dns"), "at least one address is required"))
	}
	seen := cfgerr.Firsts[string]{}
	for _, sec := range []struct {
		key   string
		addrs []string
	}{{"dns", c.DNS}, {"tls", c.TLS}, {"https", c.HTTPS}} {
		for i, a := range sec.addrs {
			p := cfgerr.Index(cfgerr.Join(path, sec.key), i)
			if _, err := netip.ParseAddrPort(a); err != nil {
				errs = append(errs, cfgerr.New(p, "%q is not an IP:port address (e.g. \"127.0.0.1:53\" or \"[::1]:53\")", a))
			} else if prev, ok := seen.Claim(a, p); !ok {
				errs = append(errs, cfgerr.New(p, "%q is already listed as %s", a, prev))
			}
		}
	}
	if len(c.TLS)+len(c.HTTPS) > 0 {
		for _, f := range []struct{ key, file string }{{"cert_file", c.CertFile}, {"key_file", c.KeyFile}} {
			if f.file == "" {
				errs = append(errs, cfgerr.New(cfgerr.Join(path, f.key), "required for tls and https listeners"))
			} else if _, err := os.Stat(f.file); err != nil {
				errs = append(errs, cfgerr.New(cfgerr.Join(path, f.key), "%v", err))
			}
		}
		if c.CertFile != "" && c.KeyFile != "" {
			if _, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile); err != nil {
				errs = append(errs, cfgerr.New(cfgerr.Join(path, "cert_file"), "cannot load the certificate and key: %v", err))
			}
		}
	}
	if c.Admin != "" {
		if _, err := netip.ParseAddrPort(c.Admin); err != nil {
			errs = append(errs, cfgerr.New(cfgerr.Join(path, "admin"), "%q is not an IP:port address", c.Admin))
		}
	}
	errs = cfgerr.AtLeast(errs, path, "tcp_idle_timeout", c.TCPIdleTimeout, 0)
	errs = cfgerr.AtLeast(errs, path, "tcp_read_timeout", c.TCPReadTimeout, 0)
	errs = cfgerr.AtLeast(errs, path, "max_tcp_conns", c.MaxTCPConns, 1)
	errs = cfgerr.AtLeast(errs, path, "max_tcp_conns_per_client", c.MaxTCPConnsPerClient, 1)
	if c.TCPMaxQueries < -1 {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "tcp_max_queries"), "must be at least 1, or -1 for no limit"))
	}
	if c.UDPSize < 512 || c.UDPSize > 65535 {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "udp_size"), "%d is outside 512-65535", c.UDPSize))
	}
	errs = cfgerr.AtLeast(errs, path, "max_inflight", c.MaxInflight, 1)
	errs = append(errs, c.ProxyProtocol.Validate(cfgerr.Join(path, "proxy_protocol"))...)
	if c.UDPRcvbuf < 4096 || c.UDPRcvbuf > 1<<30 {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "udp_rcvbuf"), "%d bytes is outside 4096-1073741824", c.UDPRcvbuf))
	}
	return errs
}
