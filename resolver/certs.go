package resolver

import (
	"crypto/tls"
	"fmt"
	"sync/atomic"
)

// certStore holds the TLS certificate of the DoT and DoH listeners and swaps
// it on reload, so a renewed certificate (e.g. from ACME) is picked up on
// SIGHUP without dropping a connection; a bad pair keeps the old one.
type certStore struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
	// names are the server names the certificate is for, a wildcard's
	// base in place of it: a TLS server name <id>.<one of them> names a
	// tenant (tenantid.go).
	names atomic.Pointer[[]string]
}

func newCertStore(certFile, keyFile string) (*certStore, error) {
	s := &certStore{certFile: certFile, keyFile: keyFile}
	if err := s.reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// reload re-reads the files; on error the current certificate stays.
func (s *certStore) reload() error {
	c, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		return fmt.Errorf("load certificate %s and key %s: %w", s.certFile, s.keyFile, err)
	}
	names := serverNames(c.Leaf)
	s.cert.Store(&c)
	s.names.Store(&names)
	return nil
}

func (s *certStore) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.cert.Load(), nil
}
