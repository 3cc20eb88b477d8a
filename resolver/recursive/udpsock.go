package recursive

import (
	"cmp"
	"context"
	"errors"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// udpSock is the socket of one UDP exchange, made with raw system calls:
// socket and connect (the kernel binds it to a random ephemeral port, the
// fresh unpredictable source port per query RFC 5452 §9.2 asks for, and
// drops datagrams from any other address). Its replies are waited for in
// the Resolver's replyPoll, not the runtime's poller: see there why.
//
// Every call on it is made with RawSyscall, without telling the runtime:
// none of them can block (the socket is non-blocking, connect on UDP only
// sets the peer), and on loopback the write runs the receiver's whole
// delivery inline, long enough for the runtime's monitor to hand the
// processor to another thread mid-call when it knows of the call, as the
// UDP listener found for its batch calls (resolver/udp_linux.go).
type udpSock struct {
	fd int
}

// dialUDP opens a non-blocking socket connected to ap.
func dialUDP(ap netip.AddrPort) (udpSock, error) {
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
		return udpSock{}, os.NewSyscallError("socket", errno)
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
		return udpSock{}, os.NewSyscallError("connect", errno)
	}
	return udpSock{fd: int(fd)}, nil
}

// close closes the socket, which also takes it out of the replyPoll's
// epoll set.
func (s udpSock) close() { unix.RawSyscall(unix.SYS_CLOSE, uintptr(s.fd), 0, 0) }

// write sends one datagram.
func (s udpSock) write(b []byte) error {
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

// read receives one queued datagram into b; wouldBlock when none is
// queued. An error the kernel queued on the socket (ECONNREFUSED after an
// ICMP port unreachable) comes back as the error.
func (s udpSock) read(b []byte) (n int, wouldBlock bool, err error) {
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

// udpBufs recycles the receive buffers of UDP exchanges.
var udpBufs = sync.Pool{New: func() any { return new([udpBufSize]byte) }}

// readyChans recycles the wake-up channels of replyWaits: disarm drains
// one before it goes back, and no reaper sends on it once disarmed.
var readyChans = sync.Pool{New: func() any { return make(chan struct{}, 1) }}

// replyIdle is how long the reaper of a replyPoll outlives its last
// waiter: long enough to carry a steady query rate, short enough that a
// Resolver replaced by a reload leaves nothing behind for long.
const replyIdle = 10 * time.Second

// replyTick is how often the reaper looks for exchanges whose deadline
// has passed while any wait: an exchange learns of its timeout up to one
// tick late, a few per cent of the shortest RTO (100 ms).
const replyTick = 5 * time.Millisecond

// replyPoll waits for the replies of all UDP exchanges of a Resolver in
// one epoll set of its own, which the runtime's poller waits on as on any
// other descriptor, and one reaper goroutine wakes each exchange whose
// socket has something to read, or whose deadline has passed or context
// ended. Per exchange
// that costs one epoll_ctl (one-shot; closing the socket removes it), where
// handing each fresh socket to the runtime's poller costs an fcntl, an
// EPOLL_CTL_ADD and an EPOLL_CTL_DEL, plus a read(2) tried before the reply
// is there (docs/ARCHITECTURE.md, "The recursive resolver's upstream
// sockets"). The deadlines and contexts are the reaper's too, swept every
// replyTick, so that an exchange waits on its channel alone: a timer
// waited on in a select goes into the runtime's timer heap and out again
// on every wait, and the select itself (locking every channel in it) was
// a few per cent of a cache miss's CPU.
// The zero value is ready to use; the reaper starts with the first
// exchange and exits after replyIdle without one.
type replyPoll struct {
	idle    time.Duration // replyIdle when zero; tests shorten it
	mu      sync.Mutex
	ep      *os.File // the epoll set; nil while no reaper runs
	epfd    int
	gen     uint32
	waiters map[uint64]waiter // by key: gen<<32 | fd
	// ticking: the epoll set's read deadline is the next sweep (waiters
	// came since the reaper last found none), not the idle exit.
	ticking bool
}

// waiter is what the reaper knows of one exchange.
type waiter struct {
	ready    chan struct{}
	deadline time.Time
	ctx      context.Context
}

// replyWait is one exchange's registration in a replyPoll.
type replyWait struct {
	key   uint64
	ready chan struct{}
}

func replyKey(gen uint32, fd int) uint64 { return uint64(gen)<<32 | uint64(uint32(fd)) }

// arm registers sock to wake the returned replyWait once it has a
// datagram or an error to read, once deadline has passed, or once ctx has
// ended (both noticed within a replyTick).
func (p *replyPoll) arm(ctx context.Context, sock udpSock, deadline time.Time) (replyWait, error) {
	p.mu.Lock()
	if p.ep == nil {
		if err := p.start(); err != nil {
			p.mu.Unlock()
			return replyWait{}, err
		}
	}
	if !p.ticking {
		p.ticking = true
		p.ep.SetReadDeadline(time.Now().Add(replyTick))
	}
	p.gen++
	w := replyWait{key: replyKey(p.gen, sock.fd), ready: readyChans.Get().(chan struct{})}
	p.waiters[w.key] = waiter{ready: w.ready, deadline: deadline, ctx: ctx}
	epfd := p.epfd // stays open while w is registered
	p.mu.Unlock()
	if err := epollCtl(epfd, unix.EPOLL_CTL_ADD, sock.fd, w.key); err != nil {
		p.disarm(w)
		return replyWait{}, err
	}
	return w, nil
}

// rearm asks for one more wake-up of w, after its socket had nothing (or
// nothing acceptable) to read.
func (p *replyPoll) rearm(sock udpSock, w replyWait) error {
	p.mu.Lock()
	epfd := p.epfd
	p.mu.Unlock()
	return epollCtl(epfd, unix.EPOLL_CTL_MOD, sock.fd, w.key)
}

// epollCtl adds (or modifies) fd in the epoll set epfd for one wake-up,
// the event carrying the key's generation; a raw call, as udpSock's are.
func epollCtl(epfd, op, fd int, key uint64) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(fd), Pad: int32(key >> 32)}
	_, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(&ev)), 0, 0)
	if errno != 0 {
		return os.NewSyscallError("epoll_ctl", errno)
	}
	return nil
}

// disarm forgets w; its socket must be closed after, not before, so a
// reused descriptor number never reaches w (the generation in the key
// keeps a stale event from waking the exchange that reuses it). Its
// channel is recycled: w must not be used after.
func (p *replyPoll) disarm(w replyWait) {
	p.mu.Lock()
	delete(p.waiters, w.key)
	p.mu.Unlock()
	select { // the reaper sends only while w is registered: drained for good
	case <-w.ready:
	default:
	}
	readyChans.Put(w.ready)
}

// start opens the epoll set and starts its reaper; p.mu is held.
func (p *replyPoll) start() error {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("epoll_create1", err)
	}
	// Non-blocking, so os.File hands it to the runtime's poller.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return os.NewSyscallError("fcntl", err)
	}
	p.ep, p.epfd, p.ticking = os.NewFile(uintptr(fd), "replies"), fd, false
	if p.waiters == nil {
		p.waiters = make(map[uint64]waiter)
	}
	go p.reap(p.ep)
	return nil
}

// running reports whether a reaper runs; for tests.
func (p *replyPoll) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ep != nil
}

// reap wakes the waiters whose sockets are ready and, every replyTick
// while any wait, those whose deadline has passed or whose context has
// ended, until the set has had no waiter for the idle time.
func (p *replyPoll) reap(ep *os.File) {
	rc, err := ep.SyscallConn()
	if err != nil {
		return
	}
	var evs [128]unix.EpollEvent
	for {
		var n int
		err := rc.Read(func(fd uintptr) bool {
			for {
				var werr error
				n, werr = unix.EpollWait(int(fd), evs[:], 0)
				if werr != unix.EINTR {
					return n > 0
				}
			}
		})
		p.mu.Lock()
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) || !p.ticking && len(p.waiters) == 0 {
				p.ep = nil
				p.mu.Unlock()
				ep.Close()
				return
			}
			now := time.Now()
			switch {
			case len(p.waiters) > 0:
				for _, w := range p.waiters {
					if !now.Before(w.deadline) || w.ctx.Err() != nil {
						select {
						case w.ready <- struct{}{}:
						default:
						}
					}
				}
				ep.SetReadDeadline(now.Add(replyTick))
			default: // none since the last tick: the idle time starts
				p.ticking = false
				ep.SetReadDeadline(now.Add(cmp.Or(p.idle, replyIdle)))
			}
		}
		for _, ev := range evs[:n] {
			if w, ok := p.waiters[replyKey(uint32(ev.Pad), int(ev.Fd))]; ok {
				select {
				case w.ready <- struct{}{}:
				default:
				}
			}
		}
		p.mu.Unlock()
	}
}
