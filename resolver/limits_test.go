package resolver_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/resolver"
)

// tcpQuery writes one framed query on c and reads one framed answer.
func tcpQuery(c net.Conn, name string) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	w, _ := m.Pack()
	if _, err := c.Write(binary.BigEndian.AppendUint16(nil, uint16(len(w)))); err != nil {
		return nil, err
	}
	if _, err := c.Write(w); err != nil {
		return nil, err
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	return (&dns.Conn{Conn: c}).ReadMsg()
}

// closedByServer reports whether the server closed c (EOF or reset) within
// a generous wait, as opposed to merely staying silent.
func closedByServer(c net.Conn, wait time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(wait))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func TestMaxTCPConnections(t *testing.T) {
	e := startEnv(t, phishingTable(t), envOpts{listenCfg: resolver.ListenConfig{DNS: []string{"127.0.0.1:0"}, MaxTCPConns: 2}})
	var held []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := tcpQuery(c, "www.example.org"); err != nil {
			t.Fatalf("conn %d: %v", i, err)
		}
		held = append(held, c)
	}
	extra, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	if !closedByServer(extra, 5*time.Second) {
		t.Fatal("third connection over max_tcp_conns=2 was not closed")
	}
	if got := metricValue(t, e.reg, "bulwark_tcp_connections_rejected_total"); got != 1 {
		t.Errorf("bulwark_tcp_connections_rejected_total = %v", got)
	}
	// Closing one frees its slot.
	held[0].Close()
	var ok bool
	for i := 0; i < 50 && !ok; i++ {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tcpQuery(c, "www.example.org")
		c.Close()
		ok = err == nil
		if !ok {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !ok {
		t.Fatal("slot not freed after a connection closed")
	}
}

func TestTCPMaxQueriesPerConnection(t *testing.T) {
	e := startEnv(t, phishingTable(t), envOpts{listenCfg: resolver.ListenConfig{DNS: []string{"127.0.0.1:0"}, TCPMaxQueries: 3}})
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 3; i++ {
		if _, err := tcpQuery(c, "www.example.org"); err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
	}
	if !closedByServer(c, 5*time.Second) {
		t.Fatal("connection not closed after tcp_max_queries=3")
	}
}

func TestSlowlorisClientCutOff(t *testing.T) {
	e := startEnv(t, phishingTable(t), envOpts{listenCfg: resolver.ListenConfig{
		DNS: []string{"127.0.0.1:0"}, TCPReadTimeout: 300 * time.Millisecond, TCPIdleTimeout: 5 * time.Second}})
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := new(dns.Msg)
	m.SetQuestion("www.example.org.", dns.TypeA)
	w, _ := m.Pack()
	frame := append(binary.BigEndian.AppendUint16(nil, uint16(len(w))), w...)
	// One byte every 100ms: the query would take ~3.5s to arrive; the
	// server must give up long before.
	start := time.Now()
	cut := false
	for _, b := range frame {
		if _, err := c.Write([]byte{b}); err != nil {
			cut = true
			break
		}
		if closedByServer(c, 100*time.Millisecond) {
			cut = true
			break
		}
	}
	if !cut {
		t.Fatalf("a client sending one byte per 100ms was served for %v (whole query sent)", time.Since(start))
	}
	// A normal client is still served.
	if resp := e.query(t, "tcp", "www.example.org", dns.TypeA, false); resp.Rcode != dns.RcodeSuccess {
		t.Fatalf("after slowloris: %v", resp)
	}
}

// "0.0.0.0:P" and "[::]:P" together: the IPv6 socket must be IPv6-only, or
// the second bind fails with "address already in use".
func TestDualStackWildcardListen(t *testing.T) {
	port := dnstest.FreePort(t) // free for UDP and TCP both
	e := startEnv(t, phishingTable(t), envOpts{listenCfg: resolver.ListenConfig{
		DNS: []string{fmt.Sprintf("0.0.0.0:%d", port), fmt.Sprintf("[::]:%d", port)}}})
	for _, addr := range []string{fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("[::1]:%d", port)} {
		e.addr = addr
		for _, proto := range []string{"udp", "tcp"} {
			if resp := e.query(t, proto, "www.example.org", dns.TypeA, false); resp.Rcode != dns.RcodeSuccess {
				t.Errorf("%s %s: %s", proto, addr, dns.RcodeToString[resp.Rcode])
			}
		}
	}
}
