package proxyproto

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

var (
	// ErrRefused is what reading a connection returns once it was found to
	// start with a PROXY header but not to come from a trusted network.
	ErrRefused = errors.New("proxyproto: PROXY header from an untrusted source")
	// ErrDropped wraps why a connection from a trusted balancer had no
	// valid header.
	ErrDropped = errors.New("proxyproto: connection from a trusted balancer without a valid PROXY header")
)

// Listener wraps a TCP listener (under TLS for DoT and DoH: the header
// comes before the handshake) so that its connections report the real
// client as RemoteAddr. The header is read by the connection's first Read
// or RemoteAddr, on the goroutine serving it, never in Accept: a balancer
// that stalls cannot hold up the accept loop.
type Listener struct {
	net.Listener
	policy func() *Policy
}

// NewListener wraps ln. policy returns the policy in force at each accept
// (so that a reload changing the trusted networks reaches a socket it
// keeps); while it returns nil, connections pass through untouched.
func NewListener(ln net.Listener, policy func() *Policy) *Listener {
	return &Listener{Listener: ln, policy: policy}
}

// Accept implements net.Listener.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	p := l.policy()
	if p == nil {
		return c, nil
	}
	return &Conn{Conn: c, p: p, remote: c.RemoteAddr()}, nil
}

// Conn is a connection accepted under a Policy. Its Read is not safe for
// concurrent use (no stream reader needs that); RemoteAddr is.
type Conn struct {
	net.Conn
	p *Policy

	once    sync.Once
	remote  net.Addr // the real client once the header is read
	trusted bool
	hdr     Header
	err     error // the header check failed: every Read returns it

	br      *bufio.Reader // bytes read past the header, or sniffed
	sniffed bool          // an untrusted connection's first bytes were checked
}

// RemoteAddr is the client the header names, or the connection's own
// peer (an untrusted client, a LOCAL header, a failed check).
func (c *Conn) RemoteAddr() net.Addr {
	c.once.Do(c.readHeader)
	return c.remote
}

// Header returns the header a trusted balancer sent; false if there was
// none (an untrusted client) or it was invalid.
func (c *Conn) Header() (Header, bool) {
	c.once.Do(c.readHeader)
	return c.hdr, c.trusted && c.err == nil
}

// Read implements net.Conn: the data after the header.
func (c *Conn) Read(b []byte) (int, error) {
	c.once.Do(c.readHeader)
	if c.err != nil {
		return 0, c.err
	}
	if !c.trusted && !c.sniffed {
		c.sniffed = true
		if err := c.sniff(); err != nil {
			c.err = err
			return 0, err
		}
	}
	if c.br != nil {
		if c.br.Buffered() > 0 {
			return c.br.Read(b)
		}
		c.br = nil
	}
	return c.Conn.Read(b)
}

// sniff refuses an untrusted connection that starts with a PROXY
// signature. It looks at one byte first — what the reader was about to
// read anyway — and waits for more only if that byte could start one,
// which neither a TLS ClientHello (0x16) nor a DNS length prefix under
// 3328 bytes can.
func (c *Conn) sniff() error {
	c.br = bufio.NewReaderSize(c.Conn, 64)
	b, err := c.br.Peek(1)
	if err != nil || (b[0] != v2Sig[0] && b[0] != v1Prefix[0]) {
		return nil // the error, if any, comes back from the next Read
	}
	need := len(v2Sig)
	if b[0] == v1Prefix[0] {
		need = len(v1Prefix)
	}
	if b, _ = c.br.Peek(need); hasSignature(b) {
		c.p.metrics.count(false, Refused)
		c.p.debug("refused PROXY header from untrusted source", c.remote)
		c.Conn.Close()
		return ErrRefused
	}
	return nil
}

// readHeader reads and checks the header of a connection from a trusted
// balancer, under the policy's timeout; an untrusted connection is left to
// sniff on its first Read.
func (c *Conn) readHeader() {
	src := addrPort(c.remote)
	if c.trusted = c.p.Trusted(src.Addr()); !c.trusted {
		return
	}
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.p.timeout))
	h, br, err := readStream(c.Conn)
	_ = c.Conn.SetReadDeadline(time.Time{})
	if err != nil {
		c.err = fmt.Errorf("%w: %w", ErrDropped, err)
		c.p.metrics.count(false, Dropped)
		c.p.debug("dropped connection: "+err.Error(), c.remote)
		c.Conn.Close()
		return
	}
	c.p.metrics.count(false, Accepted)
	c.hdr, c.br = h, br
	if h.HasAddrs() {
		c.remote = net.TCPAddrFromAddrPort(h.Source)
	}
}

// readStream reads one header, v1 or v2, from r without reading far past
// it; what it did read past is left in the returned reader.
func readStream(r io.Reader) (Header, *bufio.Reader, error) {
	br := bufio.NewReaderSize(r, 256)
	b, err := br.Peek(1)
	if err != nil {
		return Header{}, nil, fmt.Errorf("reading the header: %w", err)
	}
	switch b[0] {
	case v2Sig[0]:
		fixed, err := br.Peek(16)
		if err != nil {
			return Header{}, nil, fmt.Errorf("reading the header: %w", err)
		}
		if !hasPrefixOf(fixed, v2Sig) {
			return Header{}, nil, ErrNoHeader
		}
		total := 16 + int(binary.BigEndian.Uint16(fixed[14:16]))
		if total > MaxV2Len {
			return Header{}, nil, fmt.Errorf("v2 header of %d bytes is over the %d-byte limit", total, MaxV2Len)
		}
		buf := make([]byte, total)
		if _, err := io.ReadFull(br, buf); err != nil {
			return Header{}, nil, fmt.Errorf("reading the header: %w", err)
		}
		h, _, err := parseV2(buf)
		return h, br, err
	case v1Prefix[0]:
		line, err := br.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return Header{}, nil, fmt.Errorf("reading the header: %w", err)
		}
		if len(line) > MaxV1Len || err != nil {
			return Header{}, nil, fmt.Errorf("v1 line has no CRLF within %d bytes", MaxV1Len)
		}
		h, n, err := Parse(line)
		if err == nil && n != len(line) {
			err = errors.New("v1 line has bytes after its CRLF")
		}
		return h, br, err
	}
	return Header{}, nil, ErrNoHeader
}

func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}
