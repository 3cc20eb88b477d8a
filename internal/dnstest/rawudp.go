package dnstest

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
)

// ListenRawUDP opens a UDP socket on a free 127.0.0.1 port, closed when the
// test ends, for a test that needs the bare socket: to answer octet for
// octet (ServeRawUDP), where a dns.Server would repair what the test means
// to send wrong, or to check its socket options.
func ListenRawUDP(t testing.TB) *net.UDPConn {
	t.Helper()
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}

// ServeRawUDP calls reply with each datagram pc reads and its sender, on
// one goroutine, until pc is closed. q is pc's read buffer: valid only
// during the call (copy it to keep it), so that serving allocates nothing
// and a benchmark's client side is what it measures.
func ServeRawUDP(pc *net.UDPConn, reply func(q []byte, from netip.AddrPort)) {
	go func() {
		buf := make([]byte, 4096)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			reply(buf[:n], from)
		}
	}()
}

// Queued reads every datagram queued on pc now, without waiting for more
// and without a non-blocking read, which not every OS has (and the net
// package has not): it sends pc one last datagram of its own and reads
// up to it, which on loopback comes after everything sent before.
func Queued(t testing.TB, pc *net.UDPConn) [][]byte {
	t.Helper()
	end := []byte("dnstest: the end of what was queued")
	c, err := net.DialUDP("udp", nil, pc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(end); err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	buf := make([]byte, 1<<17)
	for {
		n, err := pc.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(buf[:n], end) {
			return got
		}
		got = append(got, bytes.Clone(buf[:n]))
	}
}
