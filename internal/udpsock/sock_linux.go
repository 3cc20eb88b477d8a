//go:build linux && !bulwark_portable

package udpsock

import (
	"net/netip"
	"os"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Sock is the socket of one UDP exchange, made with raw system calls:
// socket and connect (the kernel binds it to a random ephemeral port, the
// fresh unpredictable source port per query RFC 5452 §9.2 asks for, and
// drops datagrams from any other address). Its replies are waited for in
// its owner.s Poll, not the runtime's poller: see there why.
//
// Every call on it is made with RawSyscall, without telling the runtime:
// none of them can block (the socket is non-blocking, connect on UDP only
// sets the peer), and on loopback the write runs the receiver's whole
// delivery inline, long enough for the runtime's monitor to hand the
// processor to another thread mid-call when it knows of the call, as the
// UDP listener found for its batch calls (resolver/udp_linux.go).
type Sock struct {
	fd int
}

// Dial opens a non-blocking socket connected to ap.
func Dial(ap netip.AddrPort) (Sock, error) {
	var (
		family = unix.AF_INET
		sa4    unix.RawSockaddrInet4
		sa6    unix.RawSockaddrInet6
		sa     unsafe.Pointer
		salen  uintptr
	)
	// The port is in network byte order in the raw address.
	port := [2]byte{byte(ap.Port() >> 8), byte(ap.Port())}
	if a := ap.Addr().Unmap(); a.Is4() {
		sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.As4()}
		sa4.Port = *(*uint16)(unsafe.Pointer(&port))
		sa, salen = unsafe.Pointer(&sa4), unsafe.Sizeof(sa4)
	} else {
		family = unix.AF_INET6
		sa6 = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.As16()}
		sa6.Port = *(*uint16)(unsafe.Pointer(&port))
		sa, salen = unsafe.Pointer(&sa6), unsafe.Sizeof(sa6)
	}
	fd, _, errno := unix.RawSyscall(unix.SYS_SOCKET, uintptr(family), unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if errno != 0 {
		return Sock{}, os.NewSyscallError("socket", errno)
	}
	for {
		_, _, errno = unix.RawSyscall(unix.SYS_CONNECT, fd, uintptr(sa), salen)
		if errno != unix.EINTR {
			break
		}
	}
	runtime.KeepAlive(&sa4)
	runtime.KeepAlive(&sa6)
	if errno != 0 {
		unix.RawSyscall(unix.SYS_CLOSE, fd, 0, 0)
		return Sock{}, os.NewSyscallError("connect", errno)
	}
	return Sock{fd: int(fd)}, nil
}

// Close closes the socket, which also takes it out of the Poll's
// epoll set.
func (s Sock) Close() { unix.RawSyscall(unix.SYS_CLOSE, uintptr(s.fd), 0, 0) }

// Write sends one datagram.
func (s Sock) Write(b []byte) error {
	for {
		_, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(s.fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
		switch errno {
		case 0:
			return nil
		case unix.EINTR:
			continue
		}
		return os.NewSyscallError("write", errno)
	}
}

// Read receives one queued datagram into b; wouldBlock when none is
// queued. An error the kernel queued on the socket (ECONNREFUSED after an
// ICMP port unreachable) comes back as the error.
func (s Sock) Read(b []byte) (n int, wouldBlock bool, err error) {
	for {
		r, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(s.fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
		switch errno {
		case 0:
			return int(r), false, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, true, nil
		}
		return 0, false, os.NewSyscallError("read", errno)
	}
}

// id is the descriptor: with the generation, sock's key in a Poll.
func (s Sock) id() int { return s.fd }

// pollSet is an epoll set of the runtime's poller's: the reaper waits in
// it as for any descriptor (its deadline is the os.File's), and each
// exchange's socket is in it for one wake-up at a time (EPOLLONESHOT),
// the event carrying the key's generation.
type pollSet struct {
	ep  *os.File
	fd  int
	rc  syscall.RawConn
	evs [128]unix.EpollEvent
	n   int                // events in evs
	got []uint64           // their keys
	ew  func(uintptr) bool // s.epollWait
}

// openPollSet opens an epoll set.
func openPollSet() (*pollSet, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	// Non-blocking, so os.File hands it to the runtime's poller.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	s := &pollSet{ep: os.NewFile(uintptr(fd), "replies"), fd: fd}
	s.ew = s.epollWait
	if s.rc, err = s.ep.SyscallConn(); err != nil {
		s.ep.Close()
		return nil, err
	}
	return s, nil
}

// add puts sock in the set for one wake-up under key.
func (s *pollSet) add(_ *Poll, sock Sock, key uint64) error {
	return epollCtl(s.fd, unix.EPOLL_CTL_ADD, sock.fd, key)
}

// rearm asks for one more wake-up of sock.
func (s *pollSet) rearm(sock Sock, key uint64) error {
	return epollCtl(s.fd, unix.EPOLL_CTL_MOD, sock.fd, key)
}

// epollCtl adds (or modifies) fd in the epoll set epfd for one wake-up,
// the event carrying the key's generation; a raw call, as Sock's are.
func epollCtl(epfd, op, fd int, key uint64) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(fd), Pad: int32(key >> 32)}
	_, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(&ev)), 0, 0)
	if errno != 0 {
		return os.NewSyscallError("epoll_ctl", errno)
	}
	return nil
}

// setDeadline is when wait returns os.ErrDeadlineExceeded.
func (s *pollSet) setDeadline(t time.Time) { s.ep.SetReadDeadline(t) }

// wait returns the keys of the sockets ready, valid until the next wait,
// once there is one, or the deadline's error.
func (s *pollSet) wait() ([]uint64, error) {
	s.n = 0
	err := s.rc.Read(s.ew)
	s.got = s.got[:0]
	for _, ev := range s.evs[:s.n] {
		s.got = append(s.got, replyKey(uint32(ev.Pad), int(ev.Fd)))
	}
	return s.got, err
}

// epollWait is wait's poll of the set, made once it is readable: a
// method value made once (openPollSet), so that a wait allocates no
// closure.
func (s *pollSet) epollWait(fd uintptr) bool {
	for {
		n, err := unix.EpollWait(int(fd), s.evs[:], 0)
		if err != unix.EINTR {
			s.n = max(n, 0)
			return n > 0
		}
	}
}

// close closes the set; only the reaper does, as it exits.
func (s *pollSet) close() { s.ep.Close() }

// AwaitQueued blocks until s has a datagram to read (poll(2) without a
// timeout: loopback delivers within the sender's call, so this returns at
// once). For tests that queue replies before an exchange waits.
func (s Sock) AwaitQueued() error {
	fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != unix.EINTR {
			return err
		}
	}
}
