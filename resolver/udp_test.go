package resolver_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// udpReadSize mirrors the listeners' read buffer (resolver/udp.go).
const udpReadSize = 4096

// paddedQuery is a query for name of exactly size bytes, grown with an
// EDNS padding option (RFC 7830), as a privacy-minded client sends.
func paddedQuery(t *testing.T, id uint16, name string, size int) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.Id = id
	m.SetEdns0(1232, false)
	base, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	pad := size - len(base) - 4 // option code and length
	if pad < 0 {
		t.Fatalf("query already %d bytes, want %d", len(base), size)
	}
	m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_PADDING{Padding: make([]byte, pad)}}
	w, err := m.Pack()
	if err != nil || len(w) != size {
		t.Fatalf("padded query %d bytes (%v), want %d", len(w), err, size)
	}
	return w
}

// The UDP read buffers hold any query (udpReadSize bytes, far more than a
// question and its OPT); a larger datagram arrives cut and is dropped and
// counted as malformed rather than parsed, and the socket goes on serving.
func TestUDPReadSize(t *testing.T) {
	tests := []struct {
		name     string
		size     int
		answered bool
	}{
		{"plain query", 0, true},
		{"padded to 1232", 1232, true},
		{"exactly the read buffer", udpReadSize, true},
		{"one byte more: cut, dropped", udpReadSize + 1, false},
		{"64 KiB datagram: dropped", 65000, false},
	}
	e := startEnv(t, buildTable(t), envOpts{})
	c, err := net.Dial("udp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := uint16(1000 + i)
			var pkt []byte
			if tt.size == 0 {
				m := new(dns.Msg).SetQuestion("plain.example.com.", dns.TypeA)
				m.Id = id
				pkt, _ = m.Pack()
			} else {
				pkt = paddedQuery(t, id, strings.Repeat("a", 40)+".example.com.", tt.size)
			}
			before := metricValue(t, e.reg, "bulwark_malformed_queries_total")
			if _, err := c.Write(pkt); err != nil {
				t.Fatal(err)
			}
			if !tt.answered {
				// The drop is counted by the reader that saw it; a
				// bounded wait for the counter, not a timing claim.
				for range 500 {
					if metricValue(t, e.reg, "bulwark_malformed_queries_total") == before+1 {
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
				if got := metricValue(t, e.reg, "bulwark_malformed_queries_total"); got != before+1 {
					t.Fatalf("bulwark_malformed_queries_total %v, want %v", got, before+1)
				}
			}
			// The socket still serves; a dropped query has no answer,
			// so the next one read is the follow-up's.
			follow := new(dns.Msg).SetQuestion("follow.example.com.", dns.TypeA)
			follow.Id = id + 100
			fw, _ := follow.Pack()
			if _, err := c.Write(fw); err != nil {
				t.Fatal(err)
			}
			want := map[uint16]bool{follow.Id: true}
			if tt.answered {
				want[id] = true
			}
			buf := make([]byte, 65535)
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			for len(want) > 0 {
				n, err := c.Read(buf)
				if err != nil {
					t.Fatalf("waiting for answers %v: %v", want, err)
				}
				m := new(dns.Msg)
				if err := m.Unpack(buf[:n]); err != nil {
					t.Fatal(err)
				}
				if !want[m.Id] {
					t.Fatalf("answer with ID %d, want one of %v", m.Id, want)
				}
				if m.Rcode != dns.RcodeSuccess {
					t.Fatalf("answer %d: %s", m.Id, dns.RcodeToString[m.Rcode])
				}
				delete(want, m.Id)
			}
		})
	}
}
