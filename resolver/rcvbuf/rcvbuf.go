// Package rcvbuf sizes the listening UDP sockets' receive buffers
// (listen.udp_rcvbuf) and counts the queries the kernel dropped because one
// was full: the backlog a stall of the serving core leaves behind, which no
// other counter sees (see docs/ARCHITECTURE.md).
package rcvbuf

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"
)

// Default is listen.udp_rcvbuf's default. The kernel's default
// (about 200 KiB) holds some 2,000 queries: a 10 ms stall of the serving
// core at 100k q/s fills it and the kernel drops the rest. 4 MiB rides out
// stalls twenty times that long, as Unbound's so-rcvbuf advice does.
const Default = 4 << 20

// rmemMaxPath is where the kernel's cap on SO_RCVBUF is read from.
const rmemMaxPath = "/proc/sys/net/core/rmem_max"

// setRcvbuf sizes uc's receive buffer to want bytes and returns what the
// kernel granted. As root it asks with SO_RCVBUFFORCE, which may exceed
// net.core.rmem_max; otherwise (or if that is refused) the kernel caps the
// size at rmem_max, and a warning says how to raise it. force is false in
// tests of the capped path.
func setRcvbuf(uc *net.UDPConn, want int, force bool, logger *slog.Logger) (int, error) {
	rc, err := uc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var got int
	var serr error
	cerr := rc.Control(func(fd uintptr) {
		forced := force && unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, want) == nil
		if !forced {
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, want); serr != nil {
				return
			}
		}
		// Linux reports twice the size asked for (the other half is its
		// bookkeeping allowance); half of it is the size that was set.
		var v int
		v, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
		got = v / 2
	})
	if err := errors.Join(cerr, serr); err != nil {
		return 0, fmt.Errorf("listen.udp_rcvbuf: %s: %w", uc.LocalAddr(), err)
	}
	if got < want {
		limit := "unknown"
		if b, err := os.ReadFile(rmemMaxPath); err == nil {
			limit = strings.TrimSpace(string(b))
		}
		logger.Warn("listen.udp_rcvbuf: the kernel capped the UDP receive buffer; queries arriving in a burst beyond it are dropped (bulwark_udp_receive_drops_total). Raise the cap with sysctl -w net.core.rmem_max=N, or run with CAP_NET_ADMIN",
			"addr", uc.LocalAddr().String(), "want", want, "got", got, "net.core.rmem_max", limit)
	}
	return got, nil
}

// Stats exports, per listening address, the receive buffer granted and
// the datagrams the kernel dropped because it was full — queries Bulwark
// never saw, and so never counted anywhere else. Drops are read at scrape
// time from /proc/net/udp and udp6 (the "drops" column, matched by the
// socket's inode); a socket that is closed keeps its last count in the
// address's total, so the counter never goes back.
type Stats struct {
	mu      sync.Mutex
	socks   []udpSock
	base    map[string]uint64 // drops of closed sockets, by address
	drops   *prometheus.Desc
	rcvbuf  *prometheus.Desc
	procNet []string // files read; tests point it elsewhere
}

type udpSock struct {
	addr   string
	inode  uint64
	rcvbuf int
	last   uint64
}

// NewStats returns the statistics of the sockets it will be given to track,
// registered on reg if not nil.
func NewStats(reg prometheus.Registerer) *Stats {
	u := &Stats{
		base: map[string]uint64{},
		drops: prometheus.NewDesc("bulwark_udp_receive_drops_total",
			"UDP datagrams the kernel dropped on a listening socket, mostly because its receive buffer (listen.udp_rcvbuf) was full.", []string{"addr"}, nil),
		rcvbuf: prometheus.NewDesc("bulwark_udp_rcvbuf_bytes",
			"Receive buffer the kernel granted each listening UDP socket.", []string{"addr"}, nil),
		procNet: []string{"/proc/net/udp", "/proc/net/udp6"},
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
	ino, err := socketInode(uc)
	if err != nil {
		logger.Warn("UDP receive drops not counted", "addr", addr, "err", err)
		return
	}
	u.mu.Lock()
	u.socks = append(u.socks, udpSock{addr: addr, inode: ino, rcvbuf: got})
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
	ino, err := socketInode(uc)
	if err != nil {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	for i := range u.socks {
		if u.socks[i].inode == ino {
			u.socks[i].rcvbuf = got
		}
	}
}

// socketInode is the inode number /proc/net/udp lists uc's socket under.
func socketInode(uc *net.UDPConn) (uint64, error) {
	rc, err := uc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var st unix.Stat_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &st) }); err != nil {
		return 0, err
	}
	return st.Ino, serr
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
			continue // no IPv6, or not Linux
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
		d, ok := drops[s.inode]
		if !ok { // closed: its drops stay in the address's total
			u.base[s.addr] += s.last
			total[s.addr] += s.last
			continue
		}
		s.last = d
		total[s.addr] += d
		rcvbuf[s.addr] = s.rcvbuf
		live = append(live, s)
	}
	u.socks = live
	for a, n := range total {
		ch <- prometheus.MustNewConstMetric(u.drops, prometheus.CounterValue, float64(n), a)
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
