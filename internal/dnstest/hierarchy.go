package dnstest

import (
	"fmt"
	"net"
	"strconv"
	"testing"

	"github.com/miekg/dns"
)

// Hierarchy is a simulated DNS tree on loopback: one Authority per address
// (127.0.0.2, 127.0.0.3, ...), all on one shared port, the way real
// authoritative servers all listen on port 53 at their own addresses. A
// recursive resolver pointed at the root's address, with its server port set
// to Port, walks it like the real one.
type Hierarchy struct {
	// Port is the UDP and TCP port every server listens on.
	Port int

	t       testing.TB
	servers map[string]*Authority

	queryLog[Seen]
}

// Seen is one query as a server of the hierarchy saw it.
type Seen struct {
	// Server is the IP address of the server that received it.
	Server string
	Query
}

// String is "ip proto NAME TYPE", for test failure messages.
func (s Seen) String() string {
	return fmt.Sprintf("%s %s %s %s", s.Server, s.Proto, s.Name, dns.Type(s.Type))
}

// StartHierarchy starts an Authority on each IP (loopback addresses only,
// e.g. "127.0.0.2" or "::1"), all sharing one free port, and stops them
// when the test ends. The servers start with no zones: give them some with
// AddZone.
func StartHierarchy(t testing.TB, ips ...string) *Hierarchy {
	t.Helper()
	if len(ips) == 0 {
		t.Fatal("dnstest: StartHierarchy needs at least one address")
	}
	for _, ip := range ips {
		if a := net.ParseIP(ip); a == nil || !a.IsLoopback() {
			t.Fatalf("dnstest: %q is not a loopback address; simulated servers live on loopback only", ip)
		}
	}
	h := &Hierarchy{t: t, servers: make(map[string]*Authority, len(ips))}
	var lastErr error
	for range 20 {
		socks, port, err := listenAll(ips)
		if err != nil {
			lastErr = err
			continue
		}
		h.Port = port
		for i, ip := range ips {
			h.servers[ip] = serveAuthority(t, h, socks[i].pc, socks[i].ln)
		}
		return h
	}
	t.Fatalf("dnstest: no port free on all of %v: %v", ips, lastErr)
	return nil
}

type sockets struct {
	pc net.PacketConn
	ln net.Listener
}

// listenAll opens UDP and TCP on one port at every address; the port is
// the kernel's pick for the first address. On failure it closes them all.
func listenAll(ips []string) ([]sockets, int, error) {
	pc, ln, err := tryListen(net.JoinHostPort(ips[0], "0"))
	if err != nil {
		return nil, 0, err
	}
	socks := []sockets{{pc, ln}}
	_, p, _ := net.SplitHostPort(pc.LocalAddr().String())
	port, _ := strconv.Atoi(p)
	for _, ip := range ips[1:] {
		pc, ln, err := tryListen(net.JoinHostPort(ip, p))
		if err != nil {
			for _, s := range socks {
				s.pc.Close()
				s.ln.Close()
			}
			return nil, 0, err
		}
		socks = append(socks, sockets{pc, ln})
	}
	return socks, port, nil
}

// Server returns the Authority at ip; it fails the test if there is none.
func (h *Hierarchy) Server(ip string) *Authority {
	h.t.Helper()
	a, ok := h.servers[ip]
	if !ok {
		h.t.Fatalf("dnstest: no server at %s in this hierarchy", ip)
	}
	return a
}

func (h *Hierarchy) record(ip string, q Query) {
	h.queryLog.add(Seen{Server: ip, Query: q})
}

// Reset forgets the queries received so far, here and in every server.
func (h *Hierarchy) Reset() {
	h.queryLog.Reset()
	for _, a := range h.servers {
		a.Reset()
	}
}
