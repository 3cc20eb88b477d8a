package proxyproto

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/internal/promtest"
)

func mustPolicy(t testing.TB, m *Metrics, timeout time.Duration, trusted ...string) *Policy {
	t.Helper()
	c := Config{Trusted: trusted, HeaderTimeout: timeout}
	c.SetDefaults()
	if errs := c.Validate("listen.proxy_protocol"); len(errs) > 0 {
		t.Fatal(errs)
	}
	p, err := New(c, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type accepted struct {
	remote netip.AddrPort
	data   []byte
	err    error
}

// serveOne accepts one connection on a wrapped loopback listener, reads
// RemoteAddr and then everything the client sends (or the error).
func serveOne(t *testing.T, p *Policy) (addr string, got <-chan accepted) {
	t.Helper()
	raw, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	ln := NewListener(raw, func() *Policy { return p })
	ch := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			ch <- accepted{err: err}
			return
		}
		defer c.Close()
		a := accepted{remote: addrPort(c.RemoteAddr())}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		a.data, a.err = io.ReadAll(c)
		ch <- a
	}()
	return raw.Addr().String(), ch
}

// TestListener drives the wrapper over real loopback connections: what
// the server sees as the client and the data, for each kind of sender.
func TestListener(t *testing.T) {
	query := []byte("\x00\x0c\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00")
	hdr4 := AppendV2(nil, Header{Command: Proxy, Source: src4, Destination: dst4})
	cases := []struct {
		name     string
		trusted  string // the network trusted; 127.0.0.1 is the client
		send     []byte
		split    int // write the first split bytes, pause, then the rest (0: one write)
		remote   string
		data     []byte
		err      error
		result   string // the counter expected at 1
		noResult bool
	}{
		{name: "trusted v2", trusted: "127.0.0.0/8", send: append(hdr4, query...),
			remote: "198.51.100.7:40000", data: query, result: "accepted"},
		{name: "trusted v2 in pieces", trusted: "127.0.0.1", send: append(hdr4, query...), split: 7,
			remote: "198.51.100.7:40000", data: query, result: "accepted"},
		{name: "trusted v2 IPv6 client", trusted: "127.0.0.1",
			send:   append(AppendV2(nil, Header{Command: Proxy, Source: src6, Destination: dst6}), query...),
			remote: "[2001:db8:a::7]:40000", data: query, result: "accepted"},
		{name: "trusted v1", trusted: "127.0.0.1", send: append([]byte("PROXY TCP4 198.51.100.7 192.0.2.1 40000 53\r\n"), query...),
			remote: "198.51.100.7:40000", data: query, result: "accepted"},
		{name: "trusted v1 in pieces", trusted: "127.0.0.1", send: append([]byte("PROXY TCP4 198.51.100.7 192.0.2.1 40000 53\r\n"), query...), split: 9,
			remote: "198.51.100.7:40000", data: query, result: "accepted"},
		{name: "trusted LOCAL keeps the peer", trusted: "127.0.0.1", send: append(AppendV2(nil, Header{Command: Local}), query...),
			remote: "127.0.0.1", data: query, result: "accepted"},
		{name: "trusted v1 UNKNOWN keeps the peer", trusted: "127.0.0.1", send: append([]byte("PROXY UNKNOWN\r\n"), query...),
			remote: "127.0.0.1", data: query, result: "accepted"},
		{name: "trusted without header", trusted: "127.0.0.1", send: query,
			remote: "127.0.0.1", err: ErrDropped, result: "dropped"},
		{name: "trusted malformed v2", trusted: "127.0.0.1", send: append(v2(0x21, 0x21, inet4Body()...), query...),
			remote: "127.0.0.1", err: ErrDropped, result: "dropped"},
		{name: "trusted v1 too long", trusted: "127.0.0.1", send: []byte("PROXY UNKNOWN " + string(make([]byte, 300))),
			remote: "127.0.0.1", err: ErrDropped, result: "dropped"},
		{name: "trusted closes early", trusted: "127.0.0.1", send: hdr4[:10],
			remote: "127.0.0.1", err: ErrDropped, result: "dropped"},
		{name: "untrusted with v2 header", trusted: "127.0.0.2", send: append(hdr4, query...),
			remote: "127.0.0.1", err: ErrRefused, result: "refused"},
		{name: "untrusted with v1 header", trusted: "127.0.0.2", send: append([]byte("PROXY TCP4 198.51.100.7 192.0.2.1 40000 53\r\n"), query...),
			remote: "127.0.0.1", err: ErrRefused, result: "refused"},
		{name: "untrusted plain DNS", trusted: "127.0.0.2", send: query,
			remote: "127.0.0.1", data: query, noResult: true},
		{name: "untrusted TLS hello", trusted: "127.0.0.2", send: []byte("\x16\x03\x01\x00\x05hello"),
			remote: "127.0.0.1", data: []byte("\x16\x03\x01\x00\x05hello"), noResult: true},
		{name: "untrusted DNS whose length looks like CR", trusted: "127.0.0.2", send: []byte("\r\x00abcdefghijklmn"),
			remote: "127.0.0.1", data: []byte("\r\x00abcdefghijklmn"), noResult: true},
		{name: "untrusted one byte P", trusted: "127.0.0.2", send: []byte("P"),
			remote: "127.0.0.1", data: []byte("P"), noResult: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			p := mustPolicy(t, NewMetrics(reg), 5*time.Second, tc.trusted)
			addr, got := serveOne(t, p)
			c, err := net.Dial("tcp4", addr)
			if err != nil {
				t.Fatal(err)
			}
			if tc.split > 0 {
				_, _ = c.Write(tc.send[:tc.split])
				time.Sleep(20 * time.Millisecond) // let the server read the first piece alone
				_, _ = c.Write(tc.send[tc.split:])
			} else {
				_, _ = c.Write(tc.send)
			}
			_ = c.(*net.TCPConn).CloseWrite()
			a := <-got
			c.Close()
			wantRemote := tc.remote
			if ap, err := netip.ParseAddrPort(wantRemote); err == nil {
				if a.remote != ap {
					t.Errorf("remote = %v, want %v", a.remote, ap)
				}
			} else if a.remote.Addr() != netip.MustParseAddr(wantRemote) {
				t.Errorf("remote = %v, want the peer %v", a.remote, wantRemote)
			}
			if tc.err != nil {
				if !errors.Is(a.err, tc.err) {
					t.Fatalf("read err = %v, want %v", a.err, tc.err)
				}
			} else {
				if a.err != nil {
					t.Fatalf("read err = %v", a.err)
				}
				if string(a.data) != string(tc.data) {
					t.Errorf("data = %q, want %q", a.data, tc.data)
				}
			}
			for _, r := range []string{"accepted", "dropped", "refused"} {
				want := 0.0
				if r == tc.result && !tc.noResult {
					want = 1
				}
				if v := promtest.Value(t, reg, "bulwark_proxy_protocol_headers_total", "transport", "tcp", "result", r); v != want {
					t.Errorf("%s = %v, want %v", r, v, want)
				}
			}
		})
	}
}

// TestListenerStalledBalancer: a trusted peer that never sends its header
// is cut off by header_timeout instead of holding the connection.
func TestListenerStalledBalancer(t *testing.T) {
	p := mustPolicy(t, nil, 50*time.Millisecond, "127.0.0.1")
	addr, got := serveOne(t, p)
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a := <-got
	var ne net.Error
	if !errors.Is(a.err, ErrDropped) || !errors.As(a.err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a dropped timeout", a.err)
	}
}

// TestListenerOff: with no policy the listener hands out the raw conns.
func TestListenerOff(t *testing.T) {
	raw, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ln := NewListener(raw, func() *Policy { return nil })
	go func() {
		if c, err := net.Dial("tcp4", raw.Addr().String()); err == nil {
			defer c.Close()
			_, _ = c.Write([]byte("PROXY UNKNOWN\r\n"))
		}
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*Conn); ok {
		t.Fatal("a nil policy wrapped the connection")
	}
}

// TestDatagram is the UDP contract: which datagrams pass, with which
// client and payload, and what is counted.
func TestDatagram(t *testing.T) {
	query := []byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00")
	balancer := netip.MustParseAddrPort("10.0.0.1:5300")
	other := netip.MustParseAddrPort("10.9.0.1:5300")
	udp4 := AppendV2(nil, Header{Command: Proxy, Source: src4, Destination: dst4, Datagram: true})
	cases := []struct {
		name   string
		from   netip.AddrPort
		pkt    []byte
		ok     bool
		client netip.AddrPort
		result string
	}{
		{"trusted v2", balancer, append(udp4, query...), true, src4, "accepted"},
		{"trusted v2 stream transport", balancer, append(AppendV2(nil, Header{Command: Proxy, Source: src6, Destination: dst6}), query...), true, src6, "accepted"},
		{"trusted LOCAL", balancer, append(AppendV2(nil, Header{Command: Local}), query...), true, balancer, "accepted"},
		{"trusted v1 is TCP only", balancer, append([]byte("PROXY TCP4 198.51.100.7 192.0.2.1 40000 53\r\n"), query...), false, netip.AddrPort{}, "dropped"},
		{"trusted without header", balancer, query, false, netip.AddrPort{}, "dropped"},
		{"trusted truncated header", balancer, udp4[:20], false, netip.AddrPort{}, "dropped"},
		{"untrusted with header", other, append(udp4, query...), false, netip.AddrPort{}, "refused"},
		{"untrusted with v1", other, append([]byte("PROXY UNKNOWN\r\n"), query...), false, netip.AddrPort{}, "refused"},
		{"untrusted plain", other, query, true, other, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			p := mustPolicy(t, NewMetrics(reg), 0, "10.0.0.0/24", "2001:db8:ffff::/48")
			client, payload, ok := p.Datagram(tc.from, tc.pkt)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if ok {
				if client != tc.client {
					t.Errorf("client = %v, want %v", client, tc.client)
				}
				if string(payload) != string(query) {
					t.Errorf("payload = %q, want the query", payload)
				}
			}
			for _, r := range []string{"accepted", "dropped", "refused"} {
				want := 0.0
				if r == tc.result {
					want = 1
				}
				if v := promtest.Value(t, reg, "bulwark_proxy_protocol_headers_total", "transport", "udp", "result", r); v != want {
					t.Errorf("%s = %v, want %v", r, v, want)
				}
			}
		})
	}
	var off *Policy
	if c, pl, ok := off.Datagram(other, query); !ok || c != other || string(pl) != string(query) {
		t.Error("a nil policy changed a datagram")
	}
}

// TestDatagramAllocs: the UDP check is on the hot path.
func TestDatagramAllocs(t *testing.T) {
	p := mustPolicy(t, NewMetrics(nil), 0, "10.0.0.0/24")
	pkt := append(AppendV2(nil, Header{Command: Proxy, Source: src4, Destination: dst4, Datagram: true}), 1, 2, 3)
	from := netip.MustParseAddrPort("10.0.0.1:5300")
	if n := testing.AllocsPerRun(100, func() { p.Datagram(from, pkt) }); n != 0 {
		t.Errorf("Datagram allocates %v times", n)
	}
}

// TestConfigValidate: every bad value is reported with its path.
func TestConfigValidate(t *testing.T) {
	c := Config{Trusted: []string{"10.0.0.0/8", "not-a-net", "10.0.0.0/8", "192.0.2.1"}, HeaderTimeout: -1}
	errs := c.Validate("listen.proxy_protocol")
	want := []string{
		`listen.proxy_protocol.trusted[1]: "not-a-net" is not a CIDR network or address`,
		`listen.proxy_protocol.trusted[2]: "10.0.0.0/8" is already listed as trusted[0]`,
		`listen.proxy_protocol.header_timeout: must not be negative`,
	}
	if len(errs) != len(want) {
		t.Fatalf("errors = %v, want %d", errs, len(want))
	}
	for i, e := range errs {
		if e.Error() != want[i] {
			t.Errorf("error %d = %q, want %q", i, e, want[i])
		}
	}
	if p, err := New(Config{}, nil, nil); p != nil || err != nil {
		t.Errorf("no trusted networks: policy %v, %v; want off", p, err)
	}
}
