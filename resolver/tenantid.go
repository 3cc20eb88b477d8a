package resolver

import (
	"crypto/x509"
	"net/http"
	"strings"

	"github.com/bulwark-dns/bulwark/resolver/tenant"
)

// The listeners find the tenant id a client names — in the DoH path
// /dns-query/<id> or the TLS server name <id>.<server name> — and hand it
// to the pipeline, which selects the tenant (docs/ARCHITECTURE.md,
// "Tenants"). An id no tenant has selects nothing: the client address
// decides, as a mistyped id must not leave a client unprotected.

// dohID is the tenant id of a DoH request: the path's, else the TLS
// server name's.
func (s *Server) dohID(r *http.Request) string {
	if id, ok := tenant.DoHPathID(r.URL.Path); ok && id != "" {
		return id
	}
	if r.TLS != nil {
		return s.sniID(r.TLS.ServerName)
	}
	return ""
}

// sniID is the tenant id in a TLS server name, "" for none. The server
// names are those of the certificate in force.
func (s *Server) sniID(sni string) string {
	c := s.certs.Load()
	if sni == "" || c == nil {
		return ""
	}
	names := c.names.Load()
	if names == nil {
		return ""
	}
	return tenant.SNIID(sni, *names)
}

// serverNames are the names a certificate is for: its DNS names, a
// wildcard *.dns.example as dns.example (the name below which tenant ids
// are the first label).
func serverNames(leaf *x509.Certificate) []string {
	if leaf == nil {
		return nil
	}
	out := make([]string, 0, len(leaf.DNSNames))
	for _, n := range leaf.DNSNames {
		out = append(out, strings.TrimPrefix(n, "*."))
	}
	return out
}
