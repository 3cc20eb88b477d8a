package recursive

import (
	"io"
	"net/netip"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// udpSock is the socket of one UDP exchange (a value: one pointer, no
// allocation of its own), made with raw system calls:
// socket and connect (the kernel binds it to a random ephemeral port, the
// fresh unpredictable source port per query RFC 5452 §9.2 asks for, and
// drops datagrams from any other address), then the runtime's poller for
// waiting. net.DialUDP does the same plus a setsockopt, getsockname and
// getpeername and half a dozen allocations, on every cache miss.
type udpSock struct {
	f *os.File
}

// dialUDP opens a socket connected to ap.
func dialUDP(ap netip.AddrPort) (udpSock, error) {
	var (
		family int
		sa     unix.Sockaddr
	)
	if a := ap.Addr().Unmap(); a.Is4() {
		family, sa = unix.AF_INET, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}
	} else {
		family, sa = unix.AF_INET6, &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return udpSock{}, os.NewSyscallError("socket", err)
	}
	if err := unix.Connect(fd, sa); err != nil {
		unix.Close(fd)
		return udpSock{}, os.NewSyscallError("connect", err)
	}
	// Non-blocking, so os.File registers it with the poller, whose Read
	// and Write then wait for it without a closure per call.
	return udpSock{f: os.NewFile(uintptr(fd), "udp")}, nil
}

func (s udpSock) SetDeadline(t time.Time) error { return s.f.SetDeadline(t) }

func (s udpSock) Close() error { return s.f.Close() }

// write sends one datagram.
func (s udpSock) write(b []byte) error {
	_, err := s.f.Write(b)
	return err
}

// read receives one datagram into b, waiting in the poller until one
// comes or the deadline passes (os.ErrDeadlineExceeded, a timeout). It
// must try read(2) before waiting: the poller forgets a readiness it saw
// before the wait began, so a reply already queued would not wake us.
func (s udpSock) read(b []byte) (int, error) {
	n, err := s.f.Read(b)
	if err == io.EOF { // an empty datagram: the caller sees it cannot parse
		return 0, nil
	}
	return n, err
}

// udpBufs recycles the receive buffers of UDP exchanges.
var udpBufs = sync.Pool{New: func() any { return new([udpBufSize]byte) }}
