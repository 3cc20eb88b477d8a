package recursive

import (
	"errors"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// udpSock is the socket of one UDP exchange, made with raw system calls:
// socket and connect (the kernel binds it to a random ephemeral port, the
// fresh unpredictable source port per query RFC 5452 §9.2 asks for, and
// drops datagrams from any other address), then the runtime's poller for
// waiting. net.DialUDP does the same plus a setsockopt, getsockname and
// getpeername and half a dozen allocations, on every cache miss.
type udpSock struct {
	f  *os.File
	rc syscall.RawConn
}

// dialUDP opens a socket connected to ap.
func dialUDP(ap netip.AddrPort) (*udpSock, error) {
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
		return nil, os.NewSyscallError("socket", err)
	}
	if err := unix.Connect(fd, sa); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("connect", err)
	}
	f := os.NewFile(uintptr(fd), "udp") // non-blocking: registered with the poller
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &udpSock{f: f, rc: rc}, nil
}

func (s *udpSock) SetDeadline(t time.Time) error { return s.f.SetDeadline(t) }

func (s *udpSock) Close() error { return s.f.Close() }

// write sends one datagram.
func (s *udpSock) write(b []byte) error {
	var werr error
	err := s.rc.Write(func(fd uintptr) bool {
		_, werr = unix.Write(int(fd), b)
		return werr != unix.EAGAIN
	})
	return errors.Join(err, osErr("write", werr))
}

// read receives one datagram into b, waiting in the poller until one
// comes or the deadline passes (os.ErrDeadlineExceeded, a timeout).
func (s *udpSock) read(b []byte) (int, error) {
	var n int
	var rerr error
	err := s.rc.Read(func(fd uintptr) bool {
		n, rerr = unix.Read(int(fd), b)
		return rerr != unix.EAGAIN
	})
	if err != nil {
		return 0, err
	}
	return n, osErr("read", rerr)
}

func osErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return os.NewSyscallError(op, err)
}

// udpBufs recycles the receive buffers of UDP exchanges.
var udpBufs = sync.Pool{New: func() any { return new([udpBufSize]byte) }}
