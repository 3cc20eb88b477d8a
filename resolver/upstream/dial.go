package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
)

// dialTCP connects to s: its fixed address, or each address its host
// name has (through the bootstrap servers) in turn until one accepts.
func (s *server) dialTCP(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	if !s.ep.needsBootstrap() {
		c, err := d.DialContext(ctx, "tcp", s.ep.addrPort().String())
		if err != nil {
			return nil, err
		}
		s.m.connOpened()
		return c, nil
	}
	if s.lookup == nil { // Validate prevents this
		return nil, fmt.Errorf("no address for %s and no bootstrap servers", s.ep.host)
	}
	addrs, err := s.lookup(ctx, s.ep.host)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, a := range addrs {
		c, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(a, s.ep.port).String())
		if err == nil {
			s.m.connOpened()
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// dialStream is the stream pool's dialler: TCP, then the TLS handshake for
// tls:// (conf nil for tcp://).
func (s *server) dialStream(conf *tls.Config) func(ctx context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) {
		raw, err := s.dialTCP(ctx)
		if err != nil {
			return nil, fmt.Errorf("connect: %w", err)
		}
		if conf == nil {
			return raw, nil
		}
		c := tls.Client(raw, conf)
		if err := c.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		return c, nil
	}
}

// tlsConfig is s's client TLS configuration: the certificate must be
// valid for the configured name (or IP), under roots (nil: the system's).
// Sessions are resumed across reconnections.
func tlsConfig(ep endpoint, roots *x509.CertPool) *tls.Config {
	return &tls.Config{
		ServerName:         ep.host,
		RootCAs:            roots,
		MinVersion:         tls.VersionTLS12,
		ClientSessionCache: tls.NewLRUClientSessionCache(8),
	}
}

// rootPool is the system roots plus those in caFile ("" for none).
func rootPool(caFile string) (*x509.CertPool, error) {
	if caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("upstream.ca_file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("upstream.ca_file: %s holds no PEM certificate", caFile)
	}
	return pool, nil
}
