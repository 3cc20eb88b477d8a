package resolver_test

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
)

// testCert is a server certificate for "localhost" and the loopback
// addresses from a throwaway CA, written to PEM files for the server; the
// CA is pooled for Go clients and written to a file for kdig.
type testCert struct {
	certFile, keyFile string
	caFile            string
	pool              *x509.CertPool
	serial            string // of the server certificate, to tell which one a server presents
}

// newTestCert issues a certificate into dir (cert.pem, key.pem), replacing
// one issued there before, as a renewal does.
func newTestCert(t testing.TB, dir string) testCert {
	t.Helper()
	return newTestCertFor(t, dir, "localhost", "127.0.0.1", "::1")
}

// newTestCertFor is newTestCert for the given names and addresses.
func newTestCertFor(t testing.TB, dir string, names ...string) testCert {
	t.Helper()
	ca := dnstest.NewCA(t)
	c := ca.Issue(t, names...)
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	tc := testCert{pool: ca.Pool(), caFile: ca.File(t), serial: leaf.SerialNumber.String()}
	tc.certFile, tc.keyFile = dnstest.WriteFiles(t, dir, c)
	return tc
}

func (c testCert) clientTLS() *tls.Config {
	return &tls.Config{RootCAs: c.pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
}
