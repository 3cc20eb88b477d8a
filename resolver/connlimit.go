package resolver

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// DefaultMaxTCPConnsPerClient bounds the stream connections one client
// (an IPv4 address or an IPv6 /64) holds open at once.
const DefaultMaxTCPConnsPerClient = 32

// DefaultTCPMaxQueries is how many queries one TCP or DoT connection
// carries before it is closed: enough for any resolver-client session,
// few enough that no client holds one connection forever.
const DefaultTCPMaxQueries = 10000

// clientKey groups a client's connections: its IPv4 address, or its IPv6
// /64 (one host or LAN holds a whole /64).
func clientKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// clientConns counts the open stream connections per client.
type clientConns struct {
	mu sync.Mutex
	n  map[netip.Addr]int
}

// acquire takes a slot for key, false when it holds max already.
func (c *clientConns) acquire(key netip.Addr, max int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[netip.Addr]int{}
	}
	if c.n[key] >= max {
		return false
	}
	c.n[key]++
	return true
}

func (c *clientConns) release(key netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[key]--; c.n[key] <= 0 {
		delete(c.n, key)
	}
}

// refusedGrace is how long a connection from outside the ACL lives: long
// enough to send one query and read its REFUSED (or nothing, with action
// drop), so the client learns why; too short to hold a slot.
func refusedGrace(cfg *ListenConfig) time.Duration { return cfg.TCPReadTimeout + time.Second }

// clamp bounds every deadline of a connection from outside the
// ACL to its end of life, whatever its reader (the stream loop, TLS,
// net/http) asks for.
func (c *countedConn) clamp(t time.Time) time.Time {
	if c.until.IsZero() || (!t.IsZero() && t.Before(c.until)) {
		return t
	}
	return c.until
}

func (c *countedConn) SetDeadline(t time.Time) error { return c.Conn.SetDeadline(c.clamp(t)) }
func (c *countedConn) SetReadDeadline(t time.Time) error {
	return c.Conn.SetReadDeadline(c.clamp(t))
}
func (c *countedConn) SetWriteDeadline(t time.Time) error {
	return c.Conn.SetWriteDeadline(c.clamp(t))
}

// outsideACL reports whether c (a stream connection as accepted, or TLS
// over one) comes from a client outside the ACL.
func outsideACL(c net.Conn) bool {
	if tc, ok := c.(interface{ NetConn() net.Conn }); ok {
		c = tc.NetConn()
	}
	cc, ok := c.(*countedConn)
	return ok && !cc.until.IsZero()
}
