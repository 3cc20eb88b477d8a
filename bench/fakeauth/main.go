// Command fakeauth is the benchmark's fake authoritative upstream: it answers
// every name it is asked, on loopback, as fast as the kernel hands it packets,
// so that it is never the bottleneck of a resolver benchmark.
//
// Answers (authoritative, RCODE NOERROR):
//   - A for any name: one A record, 203.0.113.9 (-addr), TTL 3600 (-ttl);
//     names under miss.bench.test. get TTL 300 (-miss-ttl).
//   - any other type: NODATA with a root SOA in the authority section.
//   - TXT queries.fakeauth.invalid.: the number of queries served so far
//     (the harness reads it to measure the upstream load a resolver creates).
//
// Responses are built straight on the wire from the query bytes (question
// copied, answer name compressed to it), with no per-query allocation, on
// several SO_REUSEPORT UDP sockets (one where the kernel does not spread
// datagrams over them: every OS but Linux, reuseport_*.go) and on TCP. An EDNS OPT in the query is
// answered with a minimal OPT (UDP size 1232).
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"

	"github.com/bulwark-dns/bulwark/resolver/dnswire"
)

const (
	typeA   = 1
	typeSOA = 6
	typeTXT = 16
	typeOPT = 41
	classIN = 1
)

type server struct {
	addr    [4]byte
	ttl     uint32
	missTTL uint32
	served  atomic.Uint64
}

func main() {
	listen := flag.String("listen", "127.0.0.1:5400", "UDP and TCP address (loopback only)")
	addr := flag.String("addr", "203.0.113.9", "IPv4 address of every A answer")
	ttl := flag.Uint("ttl", 3600, "TTL of A answers")
	missTTL := flag.Uint("miss-ttl", 300, "TTL of A answers under miss.bench.test.")
	sockets := flag.Int("sockets", 0, "UDP sockets (SO_REUSEPORT), 0 = GOMAXPROCS")
	flag.Parse()

	ap, err := netip.ParseAddrPort(*listen)
	if err != nil || !ap.Addr().IsLoopback() {
		log.Fatalf("fakeauth: -listen %q must be a loopback address:port", *listen)
	}
	a, err := netip.ParseAddr(*addr)
	if err != nil || !a.Is4() {
		log.Fatalf("fakeauth: -addr %q is not an IPv4 address", *addr)
	}
	s := &server{addr: a.As4(), ttl: uint32(*ttl), missTTL: uint32(*missTTL)}
	n := *sockets
	switch {
	case n <= 0 && spreadsSockets:
		n = runtime.GOMAXPROCS(0)
	case n <= 0:
		n = 1
	case n > 1 && !spreadsSockets:
		log.Fatalf("fakeauth: -sockets %d needs SO_REUSEPORT's load balancing, which only Linux has: leave it at 1", n)
	}
	lc := net.ListenConfig{Control: reusePort}
	for i := 0; i < n; i++ {
		pc, err := lc.ListenPacket(context.Background(), "udp4", *listen)
		if err != nil {
			log.Fatalf("fakeauth: %v", err)
		}
		go s.serveUDP(pc.(*net.UDPConn))
	}
	ln, err := net.Listen("tcp4", *listen)
	if err != nil {
		log.Fatalf("fakeauth: %v", err)
	}
	go s.serveTCP(ln)
	fmt.Fprintf(os.Stderr, "fakeauth: serving on %s (udp x%d, tcp)\n", *listen, n)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	fmt.Fprintf(os.Stderr, "fakeauth: served %d queries\n", s.served.Load())
}

func (s *server) serveUDP(c *net.UDPConn) {
	in := make([]byte, 65535)
	out := make([]byte, 0, 4096)
	for {
		n, from, err := c.ReadFromUDPAddrPort(in)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		resp, ok := s.answer(out[:0], in[:n])
		if !ok {
			continue
		}
		_, _ = c.WriteToUDPAddrPort(resp, from)
	}
}

func (s *server) serveTCP(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		go func() {
			defer c.Close()
			in := make([]byte, 65535)
			out := make([]byte, 2, 4096)
			for {
				if _, err := io.ReadFull(c, in[:2]); err != nil {
					return
				}
				l := int(binary.BigEndian.Uint16(in[:2]))
				if _, err := io.ReadFull(c, in[:l]); err != nil {
					return
				}
				resp, ok := s.answer(out[:2], in[:l])
				if !ok {
					return
				}
				binary.BigEndian.PutUint16(resp[:2], uint16(len(resp)-2))
				if _, err := c.Write(resp); err != nil {
					return
				}
			}
		}()
	}
}

// answer appends the response to q onto out. ok is false for packets that
// are not a standard query with exactly one question.
func (s *server) answer(out, q []byte) (resp []byte, ok bool) {
	if len(q) < 12+5 || q[2]&0x80 != 0 || (q[2]>>3)&0x0f != 0 ||
		binary.BigEndian.Uint16(q[4:6]) != 1 {
		return out, false
	}
	// Walk the (uncompressed) question name.
	i := 12
	for {
		if i >= len(q) {
			return out, false
		}
		l := int(q[i])
		if l == 0 {
			i++
			break
		}
		if l > 63 {
			return out, false
		}
		i += 1 + l
	}
	if i+4 > len(q) {
		return out, false
	}
	nameEnd := i
	qtype := binary.BigEndian.Uint16(q[i : i+2])
	qclass := binary.BigEndian.Uint16(q[i+2 : i+4])
	qEnd := i + 4
	edns := false
	if binary.BigEndian.Uint16(q[10:12]) >= 1 && qEnd+11 <= len(q) &&
		q[qEnd] == 0 && binary.BigEndian.Uint16(q[qEnd+1:qEnd+3]) == typeOPT {
		edns = true
	}
	n := s.served.Add(1)

	base := len(out)
	out = append(out, q[:qEnd]...) // header + question
	var an, ns, ar uint16
	switch {
	case qclass == classIN && qtype == typeA:
		ttl := s.ttl
		if hasSuffixFold(q[12:nameEnd], missSuffix) {
			ttl = s.missTTL
		}
		out = append(out, 0xc0, 12, 0, typeA, 0, classIN)
		out = binary.BigEndian.AppendUint32(out, ttl)
		out = append(out, 0, 4, s.addr[0], s.addr[1], s.addr[2], s.addr[3])
		an = 1
	case qtype == typeTXT && dnswire.EqualFold(q[12:nameEnd], statsName):
		var num [20]byte
		v := strconv.AppendUint(num[:0], n, 10)
		out = append(out, 0xc0, 12, 0, typeTXT, 0, byte(qclass))
		out = binary.BigEndian.AppendUint32(out, 0)
		out = binary.BigEndian.AppendUint16(out, uint16(len(v)+1))
		out = append(out, byte(len(v)))
		out = append(out, v...)
		an = 1
	default: // NODATA: root SOA in authority
		out = append(out, rootSOA...)
		ns = 1
	}
	if edns {
		out = append(out, 0, 0, typeOPT, 0x04, 0xd0, 0, 0, 0, 0, 0, 0) // size 1232
		ar = 1
	}
	h := out[base : base+12] // after the appends: out may have moved
	h[2] = 0x84 | q[2]&0x01  // QR, AA, keep RD
	h[3] = 0                 // RA=0, RCODE=NOERROR
	binary.BigEndian.PutUint16(h[6:8], an)
	binary.BigEndian.PutUint16(h[8:10], ns)
	binary.BigEndian.PutUint16(h[10:12], ar)
	return out, true
}

// Wire-form names compared case-insensitively.
var (
	missSuffix = wire("miss.bench.test.")
	statsName  = wire("queries.fakeauth.invalid.")
	rootSOA    = func() []byte {
		b := []byte{0, 0, typeSOA, 0, classIN, 0, 0, 0x0e, 0x10} // ". 3600 IN SOA"
		rdata := append(wire("ns.fakeauth.invalid."), wire("hostmaster.fakeauth.invalid.")...)
		for _, v := range []uint32{1, 3600, 600, 86400, 300} { // serial refresh retry expire minimum
			rdata = binary.BigEndian.AppendUint32(rdata, v)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(rdata)))
		return append(b, rdata...)
	}()
)

func wire(name string) []byte {
	var b []byte
	start := 0
	for i := 0; i < len(name); i++ {
		if name[i] == '.' {
			b = append(b, byte(i-start))
			b = append(b, name[start:i]...)
			start = i + 1
		}
	}
	return append(b, 0)
}

// hasSuffixFold reports whether wire name n ends with wire name suffix at a
// label boundary.
func hasSuffixFold(n, suffix []byte) bool {
	for i := 0; i < len(n) && n[i] != 0; i += 1 + int(n[i]) {
		if len(n)-i == len(suffix) {
			return dnswire.EqualFold(n[i:], suffix)
		}
	}
	return false
}
