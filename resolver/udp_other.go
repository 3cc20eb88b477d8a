//go:build !linux

package resolver

import (
	"net"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// xnetConn moves datagrams with x/net's PacketConn, one a call away from
// Linux.
type xnetConn struct {
	pc interface {
		ReadBatch(ms []ipv4.Message, flags int) (int, error)
		WriteBatch(ms []ipv4.Message, flags int) (int, error)
	}
	ms [udpBatch]ipv4.Message
}

func newBatchConn(uc *net.UDPConn) batchConn {
	if a, ok := uc.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
		return &xnetConn{pc: ipv6.NewPacketConn(uc)}
	}
	return &xnetConn{pc: ipv4.NewPacketConn(uc)}
}

func (c *xnetConn) readBatch(ms []udpMsg) (int, error) {
	ms = ms[:min(len(ms), udpBatch)]
	for i := range ms {
		c.ms[i] = ipv4.Message{Buffers: [][]byte{ms[i].buf}}
	}
	n, err := c.pc.ReadBatch(c.ms[:len(ms)], 0)
	for i := range n {
		ua, _ := c.ms[i].Addr.(*net.UDPAddr)
		if ua == nil {
			ms[i].n, ms[i].trunc = 0, true // dropped as cut
			continue
		}
		ms[i].n, ms[i].trunc, ms[i].addr = c.ms[i].N, c.ms[i].Flags&msgTrunc != 0, ua.AddrPort()
	}
	return n, err
}

func (c *xnetConn) writeBatch(ms []udpMsg) (int, error) {
	ms = ms[:min(len(ms), udpBatch)]
	for i := range ms {
		c.ms[i] = ipv4.Message{Buffers: [][]byte{ms[i].buf}, Addr: net.UDPAddrFromAddrPort(ms[i].addr)}
	}
	return c.pc.WriteBatch(c.ms[:len(ms)], 0)
}
