package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net/netip"
	"strings"
	"testing"
)

var (
	src4 = netip.MustParseAddrPort("198.51.100.7:40000")
	dst4 = netip.MustParseAddrPort("192.0.2.1:53")
	src6 = netip.MustParseAddrPort("[2001:db8:a::7]:40000")
	dst6 = netip.MustParseAddrPort("[2001:db8::1]:853")
)

// v2 builds a raw v2 header: verCmd, famTrans, then body as given (the
// length is computed), so tests can say exactly which bytes are wrong.
func v2(verCmd, famTrans byte, body ...byte) []byte {
	b := append([]byte{}, v2Sig...)
	b = append(b, verCmd, famTrans)
	b = binary.BigEndian.AppendUint16(b, uint16(len(body)))
	return append(b, body...)
}

func inet4Body(tlvs ...byte) []byte {
	b := []byte{198, 51, 100, 7, 192, 0, 2, 1, 0x9c, 0x40, 0, 53}
	return append(b, tlvs...)
}

// withCRC appends a CRC32C TLV to the v2 header h and fixes its length
// and checksum, as a sender does.
func withCRC(h []byte, corrupt bool) []byte {
	h = append(h, TLV(tlvCRC32C, []byte{0, 0, 0, 0})...)
	binary.BigEndian.PutUint16(h[14:16], uint16(len(h)-16))
	c := crc32.Checksum(h, castagnoli)
	if corrupt {
		c ^= 1
	}
	binary.BigEndian.PutUint32(h[len(h)-4:], c)
	return h
}

// TestParse is the parser's contract, case by case from proxy-protocol.txt.
func TestParse(t *testing.T) {
	payload := []byte("\x12\x34DNS")
	cases := []struct {
		name string
		in   []byte
		want Header // compared when err is ""
		n    int    // header length; -1: len(in)-len(payload)
		err  string // substring of the error; "" for success
		is   error  // errors.Is target, if any
	}{
		{name: "v2 PROXY TCP4", in: append(v2(0x21, 0x11, inet4Body()...), payload...),
			want: Header{Version: 2, Command: Proxy, Source: src4, Destination: dst4}, n: -1},
		{name: "v2 PROXY UDP4", in: append(v2(0x21, 0x12, inet4Body()...), payload...),
			want: Header{Version: 2, Command: Proxy, Source: src4, Destination: dst4, Datagram: true}, n: -1},
		{name: "v2 PROXY TCP6", in: append(AppendV2(nil, Header{Command: Proxy, Source: src6, Destination: dst6}), payload...),
			want: Header{Version: 2, Command: Proxy, Source: src6, Destination: dst6}, n: -1},
		{name: "v2 LOCAL ignores addresses", in: append(v2(0x20, 0x11, inet4Body()...), payload...),
			want: Header{Version: 2, Command: Local}, n: -1},
		{name: "v2 LOCAL UNSPEC empty", in: append(v2(0x20, 0x00), payload...),
			want: Header{Version: 2, Command: Local}, n: -1},
		{name: "v2 PROXY UNSPEC uses the real endpoints", in: append(v2(0x21, 0x00), payload...),
			want: Header{Version: 2, Command: Proxy}, n: -1},
		{name: "v2 PROXY AF_UNIX uses the real endpoints", in: append(v2(0x21, 0x31, make([]byte, 216)...), payload...),
			want: Header{Version: 2, Command: Proxy}, n: -1},
		{name: "v2 TLVs skipped", in: append(v2(0x21, 0x11, inet4Body(append(TLV(0x01, []byte("dot")), TLV(0xE0, make([]byte, 300))...)...)...), payload...),
			want: Header{Version: 2, Command: Proxy, Source: src4, Destination: dst4}, n: -1},
		{name: "v2 empty NOOP TLV", in: append(v2(0x21, 0x11, inet4Body(TLV(0x04, nil)...)...), payload...),
			want: Header{Version: 2, Command: Proxy, Source: src4, Destination: dst4}, n: -1},
		{name: "v2 good CRC32C", in: append(withCRC(v2(0x21, 0x11, inet4Body()...), false), payload...),
			want: Header{Version: 2, Command: Proxy, Source: src4, Destination: dst4}, n: -1},
		{name: "v2 bad CRC32C", in: withCRC(v2(0x21, 0x11, inet4Body()...), true), err: "CRC32C mismatch"},
		{name: "v2 CRC32C of 3 bytes", in: v2(0x21, 0x11, inet4Body(TLV(tlvCRC32C, []byte{1, 2, 3})...)...), err: "not 4"},
		{name: "v2 TLV overruns", in: v2(0x21, 0x11, inet4Body(0x01, 0x00, 0x09, 'a')...), err: "claims 9 bytes"},
		{name: "v2 TLV header cut", in: v2(0x21, 0x11, inet4Body(0x01, 0x00)...), err: "cut short"},
		{name: "v2 version 1 nibble", in: v2(0x11, 0x11, inet4Body()...), err: "version 1"},
		{name: "v2 version 3", in: v2(0x31, 0x11, inet4Body()...), err: "version 3"},
		{name: "v2 unknown command", in: v2(0x22, 0x11, inet4Body()...), err: "unknown v2 command"},
		{name: "v2 unknown family", in: v2(0x21, 0x41, inet4Body()...), err: "address family"},
		{name: "v2 unknown transport", in: v2(0x21, 0x13, inet4Body()...), err: "transport"},
		{name: "v2 INET without transport", in: v2(0x21, 0x10, inet4Body()...), err: "with transport"},
		{name: "v2 INET addresses short", in: v2(0x21, 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), err: "need 12 bytes"},
		{name: "v2 INET6 with INET-sized body", in: v2(0x21, 0x21, inet4Body()...), err: "need 36 bytes"},
		{name: "v2 over the limit", in: v2(0x21, 0x11, make([]byte, MaxV2Len)...), err: "over the"},
		{name: "v2 truncated body", in: v2(0x21, 0x11, inet4Body()...)[:20], is: ErrTruncated},
		{name: "v2 truncated fixed part", in: v2Sig[:12], is: ErrTruncated},
		{name: "v2 signature prefix", in: v2Sig[:5], is: ErrTruncated},

		{name: "v1 TCP4", in: append([]byte("PROXY TCP4 198.51.100.7 192.0.2.1 40000 53\r\n"), payload...),
			want: Header{Version: 1, Command: Proxy, Source: src4, Destination: dst4}, n: -1},
		{name: "v1 TCP6", in: append([]byte("PROXY TCP6 2001:db8:a::7 2001:db8::1 40000 853\r\n"), payload...),
			want: Header{Version: 1, Command: Proxy, Source: src6, Destination: dst6}, n: -1},
		{name: "v1 UNKNOWN short", in: append([]byte("PROXY UNKNOWN\r\n"), payload...),
			want: Header{Version: 1, Command: Proxy}, n: -1},
		{name: "v1 UNKNOWN with junk", in: append([]byte("PROXY UNKNOWN ffff::1 what ever\r\n"), payload...),
			want: Header{Version: 1, Command: Proxy}, n: -1},
		{name: "v1 longest TCP6", in: []byte("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"),
			want: Header{Version: 1, Command: Proxy,
				Source:      netip.MustParseAddrPort("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"),
				Destination: netip.MustParseAddrPort("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")}, n: -1},
		{name: "v1 TCP4 with IPv6 address", in: []byte("PROXY TCP4 2001:db8::1 192.0.2.1 1 2\r\n"), err: "not an TCP4"},
		{name: "v1 TCP6 with IPv4 address", in: []byte("PROXY TCP6 198.51.100.7 192.0.2.1 1 2\r\n"), err: "not an TCP6"},
		{name: "v1 zone", in: []byte("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"), err: "not an TCP6"},
		{name: "v1 UDP4", in: []byte("PROXY UDP4 198.51.100.7 192.0.2.1 1 2\r\n"), err: "not TCP4"},
		{name: "v1 four fields", in: []byte("PROXY TCP4 198.51.100.7 192.0.2.1 1\r\n"), err: "5 fields"},
		{name: "v1 double space", in: []byte("PROXY TCP4  198.51.100.7 192.0.2.1 1 2\r\n"), err: "5 fields"},
		{name: "v1 port too big", in: []byte("PROXY TCP4 198.51.100.7 192.0.2.1 65536 2\r\n"), err: "port"},
		{name: "v1 port leading zero", in: []byte("PROXY TCP4 198.51.100.7 192.0.2.1 053 2\r\n"), err: "port"},
		{name: "v1 port sign", in: []byte("PROXY TCP4 198.51.100.7 192.0.2.1 +53 2\r\n"), err: "port"},
		{name: "v1 LF only", in: []byte("PROXY TCP4 198.51.100.7 192.0.2.1 1 2\n"), err: "LF without CR"},
		{name: "v1 no CRLF in 107 bytes", in: []byte("PROXY UNKNOWN " + strings.Repeat("x", 120) + "\r\n"), err: "no CRLF"},
		{name: "v1 truncated", in: []byte("PROXY TCP4 198.51.100.7"), is: ErrTruncated},
		{name: "v1 prefix", in: []byte("PRO"), is: ErrTruncated},

		{name: "DNS query", in: []byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"), is: ErrNoHeader},
		{name: "TLS ClientHello", in: []byte("\x16\x03\x01\x02\x00"), is: ErrNoHeader},
		{name: "empty", in: nil, is: ErrNoHeader},
		{name: "almost v2", in: []byte("\r\n\r\n\x00\r\nQUIT!\x21\x11\x00\x00"), is: ErrNoHeader},
		{name: "almost v1", in: []byte("PROXYTCP4 1.2.3.4 1.2.3.4 1 2\r\n"), is: ErrNoHeader},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, n, err := Parse(tc.in)
			switch {
			case tc.is != nil:
				if !errors.Is(err, tc.is) {
					t.Fatalf("err = %v, want %v", err, tc.is)
				}
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
			default:
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if h != tc.want {
					t.Errorf("header = %+v, want %+v", h, tc.want)
				}
				wantN := tc.n
				if wantN == -1 {
					wantN = len(tc.in) - len(payload)
					if !bytes.HasSuffix(tc.in, payload) {
						wantN = len(tc.in)
					}
				}
				if n != wantN {
					t.Errorf("n = %d, want %d", n, wantN)
				}
			}
		})
	}
}

// TestAppendV2RoundTrips checks the encoder the other tests use against
// the parser, for both families and both transports.
func TestAppendV2RoundTrips(t *testing.T) {
	for _, h := range []Header{
		{Version: 2, Command: Proxy, Source: src4, Destination: dst4},
		{Version: 2, Command: Proxy, Source: src4, Destination: dst4, Datagram: true},
		{Version: 2, Command: Proxy, Source: src6, Destination: dst6},
		{Version: 2, Command: Proxy, Source: src6, Destination: dst6, Datagram: true},
		{Version: 2, Command: Local},
	} {
		b := AppendV2(nil, h, TLV(0x05, []byte("unique-id")))
		got, n, err := Parse(b)
		if err != nil || n != len(b) || got != h {
			t.Errorf("%+v: parsed %+v, %d of %d bytes, %v", h, got, n, len(b), err)
		}
	}
}
