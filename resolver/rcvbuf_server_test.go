package resolver_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/bulwark-dns/bulwark/resolver"
	"github.com/miekg/dns"
)

// listen.udp_rcvbuf reaches the listening socket, and the socket's buffer
// and drops are exported under its address.
func TestListenUDPRcvbuf(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		t.Skip("no net.core.rmem_max (not Linux)")
	}
	limit, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	tests := []struct {
		name   string
		rcvbuf int
	}{
		{"default", 0},
		{"small", 256 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startEnv(t, buildTable(t), envOpts{listenCfg: resolver.ListenConfig{UDPRcvbuf: tt.rcvbuf}})
			want := tt.rcvbuf
			if want == 0 {
				want = resolver.DefaultUDPRcvbuf
			}
			if os.Geteuid() != 0 { // SO_RCVBUFFORCE needs CAP_NET_ADMIN
				want = min(want, limit)
			}
			if m := e.query(t, "udp", "example.com.", dns.TypeA, false); m == nil {
				t.Fatal("no answer")
			}
			addr := e.addr
			if got := metricValue(t, e.reg, "bulwark_udp_rcvbuf_bytes", "addr", addr); int(got) != want {
				t.Fatalf("bulwark_udp_rcvbuf_bytes{addr=%q} = %v, want %d", addr, got, want)
			}
			if got := metricValue(t, e.reg, "bulwark_udp_receive_drops_total", "addr", addr); got != 0 {
				t.Fatalf("drops %v on an idle socket", got)
			}
		})
	}
}
