package proxyproto

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the header parser, as a datagram and
// as a stream. It must never panic, never claim more bytes than it was
// given, and the stream reader (which reads the header piecewise off a
// connection) must agree with the one-buffer parser on every header both
// accept.
func FuzzParse(f *testing.F) {
	f.Add(AppendV2(nil, Header{Command: Proxy, Source: src4, Destination: dst4}))
	f.Add(AppendV2(nil, Header{Command: Proxy, Source: src6, Destination: dst6, Datagram: true}, TLV(0x01, []byte("h2"))))
	f.Add(AppendV2(nil, Header{Command: Local}))
	f.Add(withCRC(v2(0x21, 0x11, inet4Body()...), false))
	f.Add(v2(0x21, 0x31, make([]byte, 216)...))
	f.Add([]byte("PROXY TCP4 198.51.100.7 192.0.2.1 40000 53\r\n\x00\x0c"))
	f.Add([]byte("PROXY TCP6 2001:db8:a::7 2001:db8::1 40000 853\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add([]byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"))
	trusted := mustPolicy(f, nil, 0, "10.0.0.0/8")
	balancer := netip.MustParseAddrPort("10.0.0.1:5300")
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := Parse(b)
		if err != nil {
			if n != 0 {
				t.Fatalf("error %v with n = %d", err, n)
			}
		} else {
			if n <= 0 || n > len(b) {
				t.Fatalf("n = %d of %d bytes", n, len(b))
			}
			if h.Version != 1 && h.Version != 2 {
				t.Fatalf("version %d", h.Version)
			}
			if h.Version == 2 && h.HasAddrs() {
				// What was parsed re-encodes to a header meaning the same.
				again, m, err := Parse(AppendV2(nil, h))
				if err != nil || again != h || m != 16+map[bool]int{true: 12, false: 36}[h.Source.Addr().Is4()] {
					t.Fatalf("%+v re-encodes to %+v (%d bytes), %v", h, again, m, err)
				}
			}
			if h.Version == 1 && !bytes.Equal(b[n-2:n], []byte("\r\n")) {
				t.Fatalf("v1 header does not end in CRLF: %q", b[:n])
			}
		}
		sh, br, serr := readStream(bytes.NewReader(b))
		if err == nil && !errors.Is(serr, ErrNoHeader) {
			if serr != nil {
				t.Fatalf("Parse accepted %q, the stream reader did not: %v", b[:n], serr)
			}
			if sh != h {
				t.Fatalf("stream header %+v, Parse %+v", sh, h)
			}
			rest := make([]byte, len(b))
			k, _ := br.Read(rest)
			if k > 0 && !bytes.HasPrefix(b[n:], rest[:k]) {
				t.Fatalf("stream reader lost bytes after the header")
			}
		}
		if serr == nil && err != nil && !errors.Is(err, ErrTruncated) {
			t.Fatalf("stream reader accepted what Parse rejects: %v", err)
		}
		if c, pl, ok := trusted.Datagram(balancer, b); ok {
			if len(pl) > len(b) || !c.IsValid() {
				t.Fatalf("datagram: client %v, %d-byte payload of %d", c, len(pl), len(b))
			}
		}
	})
}
