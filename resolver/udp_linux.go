package resolver

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsgConn calls recvmmsg and sendmmsg on a UDP socket itself: its
// message headers, iovecs and sockaddrs are filled in place, batch after
// batch, and the peers' addresses are read straight into netip form, where
// x/net marshalled every header anew and allocated a *net.UDPAddr per
// datagram. The calls are raw (no entersyscall): on a non-blocking socket
// neither waits, and under load a batch's sendmmsg outlasted the runtime's
// 20 µs syscall tick, so that with GOMAXPROCS=1 the monitor thread took
// the P away mid-batch and every batch paid a hand-off and a rescheduling
// (a third of the server's CPU under dnsperf). When the socket has
// nothing to read (EAGAIN) the reader parks in the netpoller as before.
type mmsgConn struct {
	rc  syscall.RawConn
	v6  bool
	hdr [udpBatch]unix.Mmsghdr
	iov [udpBatch]unix.Iovec
	sa  [udpBatch]unix.RawSockaddrInet6 // room for either family

	call  func(fd uintptr) bool // c.do
	trap  uintptr               // SYS_RECVMMSG or SYS_SENDMMSG
	n     int                   // headers to move
	r     int                   // datagrams moved
	errno syscall.Errno
}

func newBatchConn(uc *net.UDPConn) batchConn {
	rc, err := uc.SyscallConn()
	if err != nil { // not for a *net.UDPConn from ListenUDP
		panic(fmt.Sprintf("udp socket without a descriptor: %v", err))
	}
	c := &mmsgConn{rc: rc}
	c.call = c.do
	if a, ok := uc.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
		c.v6 = true
	}
	for i := range c.hdr {
		c.hdr[i].Hdr.Name = (*byte)(unsafe.Pointer(&c.sa[i]))
		c.hdr[i].Hdr.Iov = &c.iov[i]
		c.hdr[i].Hdr.SetIovlen(1)
	}
	return c
}

// mmsg runs one recvmmsg or sendmmsg over the first n headers through the
// netpoller: it waits while the socket would block.
func (c *mmsgConn) mmsg(trap uintptr, n int, read bool) (int, error) {
	c.trap, c.n = trap, n
	var err error
	if read {
		err = c.rc.Read(c.call)
	} else {
		err = c.rc.Write(c.call)
	}
	if err != nil {
		return 0, err
	}
	if c.errno != 0 {
		name := "sendmmsg"
		if read {
			name = "recvmmsg"
		}
		return 0, os.NewSyscallError(name, c.errno)
	}
	return c.r, nil
}

// do is the system call the netpoller retries: false while the socket
// would block. It keeps its arguments and results in c, so that the
// closure (c.call, bound once) costs no allocation a batch.
func (c *mmsgConn) do(fd uintptr) bool {
	for {
		r, _, errno := unix.RawSyscall6(c.trap, fd, uintptr(unsafe.Pointer(&c.hdr[0])), uintptr(c.n), unix.MSG_DONTWAIT, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		c.r, c.errno = int(r), errno
		return errno != unix.EAGAIN
	}
}

func (c *mmsgConn) readBatch(ms []udpMsg) (int, error) {
	ms = ms[:min(len(ms), udpBatch)]
	for i := range ms {
		c.iov[i].Base = unsafe.SliceData(ms[i].buf)
		c.iov[i].SetLen(len(ms[i].buf))
		c.hdr[i].Hdr.Namelen = uint32(unsafe.Sizeof(c.sa[i]))
		c.hdr[i].Hdr.Flags = 0
	}
	n, err := c.mmsg(unix.SYS_RECVMMSG, len(ms), true)
	for i := range n {
		h := &c.hdr[i]
		ms[i].n, ms[i].trunc = int(h.Len), h.Hdr.Flags&unix.MSG_TRUNC != 0
		ms[i].addr = c.peer(i)
	}
	return n, err
}

// peer is the source address the kernel wrote into sockaddr i. A
// link-local IPv6 peer keeps its interface as a numeric zone, which the
// answer's sockaddr needs.
func (c *mmsgConn) peer(i int) netip.AddrPort {
	sa := &c.sa[i]
	port := ntohs(sa.Port)
	switch sa.Family {
	case unix.AF_INET:
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(s4.Addr), port)
	case unix.AF_INET6:
		a := netip.AddrFrom16(sa.Addr)
		if sa.Scope_id != 0 {
			a = a.WithZone(strconv.FormatUint(uint64(sa.Scope_id), 10))
		}
		return netip.AddrPortFrom(a, port)
	}
	return netip.AddrPort{}
}

func (c *mmsgConn) writeBatch(ms []udpMsg) (int, error) {
	ms = ms[:min(len(ms), udpBatch)]
	for i := range ms {
		c.iov[i].Base = unsafe.SliceData(ms[i].buf)
		c.iov[i].SetLen(len(ms[i].buf))
		c.hdr[i].Hdr.Namelen = c.setPeer(i, ms[i].addr)
	}
	if len(ms) == 0 {
		return 0, nil
	}
	return c.mmsg(unix.SYS_SENDMMSG, len(ms), false)
}

// setPeer writes ap into sockaddr i in the socket's family and returns
// its length.
func (c *mmsgConn) setPeer(i int, ap netip.AddrPort) uint32 {
	sa := &c.sa[i]
	port := ap.Port()
	if !c.v6 {
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*s4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Port: ntohs(port), Addr: ap.Addr().Unmap().As4()}
		return unix.SizeofSockaddrInet4
	}
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Port: ntohs(port), Addr: ap.Addr().As16()}
	if z := ap.Addr().Zone(); z != "" {
		if id, err := strconv.ParseUint(z, 10, 32); err == nil {
			sa.Scope_id = uint32(id)
		} else if ifi, err := net.InterfaceByName(z); err == nil {
			sa.Scope_id = uint32(ifi.Index)
		}
	}
	return unix.SizeofSockaddrInet6
}

// ntohs swaps a sockaddr's port between network byte order and the
// host's (the swap is its own inverse): the field holds the port's two
// octets big-endian whatever the host's order.
func ntohs(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}
