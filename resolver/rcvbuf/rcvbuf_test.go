package rcvbuf

import (
	"errors"
	"log/slog"
	"strings"
	"syscall"
	"testing"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/internal/promtest"
	"github.com/prometheus/client_golang/prometheus"
)

// TestLargestAccepted: against a kernel that refuses sizes above its cap
// (the BSDs' and macOS's ENOBUFS), the socket ends with the largest size
// within 4 KiB of the cap, and the size it reports is the one it holds.
func TestLargestAccepted(t *testing.T) {
	tests := []struct {
		name string
		want int
		cap  int // the largest size accepted
	}{
		{"within the cap", 1 << 20, 4 << 20},
		{"at the cap", 4 << 20, 4 << 20},
		{"above the cap", 4 << 20, 1864135}, // FreeBSD's default share of 2 MiB
		{"cap at a power of two", 4 << 20, 1 << 20},
		{"cap just above 4 KiB", 1 << 20, 4097},
		{"cap below 4 KiB", 1 << 20, 2048},
		{"smallest size refused", 4096, 2048},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			held := 0 // the buffer's size: a refused size leaves it as it was
			set := func(n int) error {
				if n > tt.cap {
					return syscall.ENOBUFS
				}
				held = n
				return nil
			}
			got, err := largestAccepted(tt.want, set)
			switch {
			case tt.cap < 4096:
				if !errors.Is(err, syscall.ENOBUFS) {
					t.Fatalf("got %d, %v; want the kernel's ENOBUFS", got, err)
				}
				return
			case err != nil:
				t.Fatal(err)
			case got != held:
				t.Fatalf("reported %d, the socket holds %d", got, held)
			case got > min(tt.want, tt.cap) || got <= min(tt.want, tt.cap)-4096:
				t.Fatalf("got %d, want the largest size within 4 KiB of min(%d, cap %d)", got, tt.want, tt.cap)
			}
		})
	}
}

// TestTrackCollect, on every OS: the buffer granted shows per address
// while the socket is open and goes once it is closed; the drops counter
// shows only where the kernel counts drops per socket (Linux).
func TestTrackCollect(t *testing.T) {
	reg := prometheus.NewRegistry()
	u := NewStats(reg)
	uc := dnstest.ListenRawUDP(t)
	u.Track(uc, 64<<10, slog.New(slog.DiscardHandler))
	addr := uc.LocalAddr().String()
	if got := promtest.Value(t, reg, "bulwark_udp_rcvbuf_bytes", "addr", addr); got < 4096 {
		t.Fatalf("rcvbuf gauge %v, want the 64 KiB asked (or what the kernel capped it to)", got)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counted := false
	for _, mf := range mfs {
		counted = counted || mf.GetName() == "bulwark_udp_receive_drops_total"
	}
	if want := len(procNetFiles()) > 0; counted != want {
		t.Fatalf("drops counter exported: %v, want %v (where the kernel counts them)", counted, want)
	}
	uc.Close()
	mfs, err = reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "bulwark_udp_rcvbuf_bytes" {
			t.Fatalf("rcvbuf gauge still exported for a closed socket: %v", mf)
		}
	}
}

func TestParseProcNetUDP(t *testing.T) {
	const header = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
	tests := []struct {
		name    string
		in      string
		want    map[uint64]uint64
		wantErr bool
	}{
		{"empty", header, map[uint64]uint64{}, false},
		{"two sockets", header +
			" 2714: 0100007F:157D 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 318048 2 00000000a4449dc5 0\n" +
			"13729: 0100007F:4084 00000000:0000 07 00000000:0001F400 00:00000000 00000000   101        0 86489 2 00000000aeb26dea 1234\n",
			map[uint64]uint64{318048: 0, 86489: 1234}, false},
		{"udp6 line", header +
			" 1053: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2 0000000000000000 7\n",
			map[uint64]uint64{4242: 7}, false},
		{"short and garbled lines skipped", header +
			"garbage\n" +
			" 1: 0100007F:157D 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 x 2 0 0\n" +
			" 2: 0100007F:157D 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 99 2 0 5\n",
			map[uint64]uint64{99: 5}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[uint64]uint64{}
			err := parseProcNetUDP(strings.NewReader(tt.in), got)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, want error %v", err, tt.wantErr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func FuzzParseProcNetUDP(f *testing.F) {
	f.Add(" 2: 0100007F:157D 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 99 2 0 5\n")
	f.Add("sl local_address\n1 2 3 4 5 6 7 8 9 10 11 12 13 14\n")
	f.Fuzz(func(t *testing.T, s string) {
		_ = parseProcNetUDP(strings.NewReader(s), map[uint64]uint64{})
	})
}
