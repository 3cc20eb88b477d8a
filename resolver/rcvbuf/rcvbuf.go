// Package rcvbuf sizes the listening UDP sockets' receive buffers
// (listen.udp_rcvbuf) and counts the queries the kernel dropped because one
// was full: the backlog a stall of the serving core leaves behind, which no
// other counter sees (see docs/ARCHITECTURE.md).
package rcvbuf

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Default is listen.udp_rcvbuf's default. The kernel's default
// (about 200 KiB) holds some 2,000 queries: a 10 ms stall of the serving
// core at 100k q/s fills it and the kernel drops the rest. 4 MiB rides out
// stalls twenty times that long, as Unbound's so-rcvbuf advice does.
const Default = 4 << 20

// setRcvbuf sizes uc's receive buffer to want bytes and returns what the
// kernel granted; the asking is the OS's (setBuffer, rcvbuf_linux.go and
// rcvbuf_other.go), the warning when it granted less is one for all: it
// names the kernel's limit and how to raise it. force asks past the limit
// where the OS has a way to (Linux's SO_RCVBUFFORCE as root); it is false
// in tests of the capped path.
func setRcvbuf(uc *net.UDPConn, want int, force bool, logger *slog.Logger) (int, error) {
	got, err := setBuffer(uc, want, force)
	if err != nil {
		return 0, fmt.Errorf("listen.udp_rcvbuf: %s: %w", uc.LocalAddr(), err)
	}
	if got < want {
		l := kernelLimit()
		logger.Warn("listen.udp_rcvbuf: the kernel capped the UDP receive buffer; queries arriving in a burst beyond it are dropped"+l.counted+". "+l.raise,
			"addr", uc.LocalAddr().String(), "want", want, "got", got, l.name, l.value)
	}
	return got, nil
}

// limit is what a warning says of the kernel's cap on a socket's receive
// buffer: its name (a sysctl), its value when it can be read, how to
// raise it, and where the drops it causes are counted.
type limit struct {
	name, value, raise, counted string
}

// Stats exports, per listening address, the receive buffer granted and
// the datagrams the kernel dropped because it was full — queries Bulwark
// never saw, and so never counted anywhere else. Drops are read at scrape
// time from /proc/net/udp and udp6 (the "drops" column, matched by the
// socket's inode); a socket that is closed keeps its last count in the
// address's total, so the counter never goes back. Where the kernel keeps
// no such count (every OS but Linux: see procNetFiles) the drops counter
// is not exported at all, rather than exported as a zero that would
// read as "no drops"; the buffer gauge is.
type Stats struct {
	mu      sync.Mutex
	socks   []udpSock
	base    map[string]uint64 // drops of closed sockets, by address
	drops   *prometheus.Desc
	rcvbuf  *prometheus.Desc
	procNet []string // files read, none where there are none; tests point it elsewhere
}

type udpSock struct {
	addr   string
	conn   *net.UDPConn // to tell when it is closed, and find it to resize
	inode  uint64       // its line in procNet, where there is one
	rcvbuf int
	last   uint64
}

// closed reports whether s's socket has been closed: its drops are final.
func (s udpSock) closed() bool {
	rc, err := s.conn.SyscallConn()
	return err != nil || rc.Control(func(uintptr) {}) != nil
}

// NewStats returns the statistics of the sockets it will be given to track,
// registered on reg if not nil.
func NewStats(reg prometheus.Registerer) *Stats {
	u := &Stats{
		base: map[string]uint64{},
		drops: prometheus.NewDesc("bulwark_udp_receive_drops_total",
			"UDP datagrams the kernel dropped on a listening socket, mostly because its receive buffer (listen.udp_rcvbuf) was full. Linux only.", []string{"addr"}, nil),
		rcvbuf: prometheus.NewDesc("bulwark_udp_rcvbuf_bytes",
			"Receive buffer the kernel granted each listening UDP socket.", []string{"addr"}, nil),
		procNet: procNetFiles(),
	}
	if reg != nil {
		reg.MustRegister(u)
	}
	return u
}

// Track sizes uc's receive buffer to rcvbuf bytes and counts its drops under
// its local address. A nil Stats (no metrics) still sizes the buffer.
func (u *Stats) Track(uc *net.UDPConn, rcvbuf int, logger *slog.Logger) {
	addr := uc.LocalAddr().String()
	got, err := setRcvbuf(uc, rcvbuf, true, logger)
	if err != nil {
		logger.Warn("UDP receive buffer left at the kernel's default", "err", err)
	}
	if u == nil {
		return
	}
	s := udpSock{addr: addr, conn: uc, rcvbuf: got}
	if len(u.procNet) > 0 {
		if s.inode, err = socketInode(uc); err != nil {
			logger.Warn("UDP receive drops not counted", "addr", addr, "err", err)
			return
		}
	}
	u.mu.Lock()
	u.socks = append(u.socks, s)
	u.mu.Unlock()
}

// Resize applies a new listen.udp_rcvbuf to a socket already tracked.
func (u *Stats) Resize(uc *net.UDPConn, rcvbuf int, logger *slog.Logger) {
	got, err := setRcvbuf(uc, rcvbuf, true, logger)
	if err != nil {
		logger.Warn("UDP receive buffer unchanged", "err", err)
		return
	}
	if u == nil {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	for i := range u.socks {
		if u.socks[i].conn == uc {
			u.socks[i].rcvbuf = got
		}
	}
}

// Describe implements prometheus.Collector.
func (u *Stats) Describe(ch chan<- *prometheus.Desc) {
	ch <- u.drops
	ch <- u.rcvbuf
}

// Collect implements prometheus.Collector: drops are read from the kernel
// at scrape time.
func (u *Stats) Collect(ch chan<- prometheus.Metric) {
	drops := map[uint64]uint64{}
	for _, p := range u.procNet {
		f, err := os.Open(p)
		if err != nil {
			continue // no IPv6
		}
		_ = parseProcNetUDP(f, drops)
		f.Close()
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	total := map[string]uint64{}
	rcvbuf := map[string]int{}
	for a, n := range u.base {
		total[a] = n
	}
	live := u.socks[:0]
	for _, s := range u.socks {
		if s.closed() { // its drops stay in the address's total
			u.base[s.addr] += s.last
			total[s.addr] += s.last
			continue
		}
		s.last = drops[s.inode]
		total[s.addr] += s.last
		rcvbuf[s.addr] = s.rcvbuf
		live = append(live, s)
	}
	u.socks = live
	if len(u.procNet) > 0 {
		for a, n := range total {
			ch <- prometheus.MustNewConstMetric(u.drops, prometheus.CounterValue, float64(n), a)
		}
	}
	for a, n := range rcvbuf {
		ch <- prometheus.MustNewConstMetric(u.rcvbuf, prometheus.GaugeValue, float64(n), a)
	}
}

// parseProcNetUDP adds to drops the drops column of every socket listed in
// r (the format of /proc/net/udp and udp6), by inode. Lines it cannot read
// are skipped; the error says how many, for tests.
func parseProcNetUDP(r io.Reader, drops map[uint64]uint64) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), 4096)
	bad := 0
	for first := true; sc.Scan(); first = false {
		if first && bytes.Contains(sc.Bytes(), []byte("local_address")) {
			continue // the header
		}
		// sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
		f := strings.Fields(sc.Text())
		if len(f) < 13 {
			bad++
			continue
		}
		ino, err1 := strconv.ParseUint(f[9], 10, 64)
		d, err2 := strconv.ParseUint(f[12], 10, 64)
		if err1 != nil || err2 != nil {
			bad++
			continue
		}
		drops[ino] += d
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if bad > 0 {
		return fmt.Errorf("%d unreadable lines", bad)
	}
	return nil
}

// largestAccepted asks set for want bytes and, if it is refused, for the
// largest size it accepts (within 4 KiB, the least listen.udp_rcvbuf
// allows), which it returns. If even 4 KiB is refused the first error is
// returned: the buffer is as the kernel made it.
func largestAccepted(want int, set func(int) error) (int, error) {
	const step = 4096
	first := set(want)
	if first == nil {
		return want, nil
	}
	lo, hi := 0, want // lo accepted (0: none yet), hi refused
	for n := want / 2; n >= step; n /= 2 {
		if set(n) == nil {
			lo = n
			break
		}
		hi = n
	}
	if lo == 0 {
		return 0, first
	}
	for hi-lo > step {
		mid := lo + (hi-lo)/2
		if set(mid) == nil {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil // a refused size leaves the buffer at the last one accepted
}
