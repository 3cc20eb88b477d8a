package rcvbuf

import (
	"bytes"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/internal/promtest"
	"github.com/prometheus/client_golang/prometheus"
)

func rmemMax(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(rmemMaxPath)
	if err != nil {
		t.Skipf("no %s (not Linux?): %v", rmemMaxPath, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSetRcvbuf(t *testing.T) {
	limit := rmemMax(t)
	tests := []struct {
		name     string
		want     int
		force    bool
		wantGot  func(got int) bool
		wantWarn bool
	}{
		{"within the kernel's cap", min(64<<10, limit), false, func(got int) bool { return got == min(64<<10, limit) }, false},
		{"beyond the cap: capped, warned", limit + 1<<20, false, func(got int) bool { return got == limit }, true},
		// As root (CI), SO_RCVBUFFORCE passes the cap; otherwise it is
		// refused and the cap applies with a warning.
		{"beyond the cap, forced", limit + 1<<20, true, func(got int) bool {
			return got == limit+1<<20 || os.Geteuid() != 0 && got == limit
		}, os.Geteuid() != 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			got, err := setRcvbuf(dnstest.ListenRawUDP(t), tt.want, tt.force, slog.New(slog.NewTextHandler(&log, nil)))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.wantGot(got) {
				t.Fatalf("asked %d (rmem_max %d), got %d", tt.want, limit, got)
			}
			warned := strings.Contains(log.String(), "net.core.rmem_max")
			if warned != tt.wantWarn {
				t.Fatalf("warning naming net.core.rmem_max: %v, want %v; log: %s", warned, tt.wantWarn, log.String())
			}
		})
	}
}

// A socket nobody reads, with the smallest buffer, overflows under a
// burst: the drops the kernel counts show in bulwark_udp_receive_drops_total,
// and stay there once the socket is closed.
func TestUDPDropsCounted(t *testing.T) {
	if _, err := os.Stat("/proc/net/udp"); err != nil {
		t.Skip("no /proc/net/udp (not Linux)")
	}
	reg := prometheus.NewRegistry()
	u := NewStats(reg)
	uc := dnstest.ListenRawUDP(t)
	u.Track(uc, 4096, slog.New(slog.DiscardHandler))
	addr := uc.LocalAddr().String()
	if got := promtest.Value(t, reg, "bulwark_udp_rcvbuf_bytes", "addr", addr); got < 2048 || got > 8192 {
		t.Fatalf("rcvbuf gauge %v, want about 4096", got)
	}
	cl, err := net.DialUDP("udp4", nil, uc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	pkt := make([]byte, 512)
	for range 2000 {
		_, _ = cl.Write(pkt)
	}
	drops := promtest.Value(t, reg, "bulwark_udp_receive_drops_total", "addr", addr)
	if drops < 1000 {
		t.Fatalf("%v drops counted after 2000 datagrams into a 4 KiB buffer, want most of them", drops)
	}
	uc.Close()
	if after := promtest.Value(t, reg, "bulwark_udp_receive_drops_total", "addr", addr); after != drops {
		t.Fatalf("drops %v after close, want the %v counted before", after, drops)
	}
}
