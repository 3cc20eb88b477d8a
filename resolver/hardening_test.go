package resolver_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/resolver"
)

// TestDoHGetSizeLimit: a GET's dns parameter is bounded as a POST body is
// (one DNS message, 64 KiB); a larger one is refused with 414 before it
// reaches the chain, and an ordinary GET is still answered.
func TestDoHGetSizeLimit(t *testing.T) {
	cert := newTestCert(t, t.TempDir())
	e, _, doh := startEncrypted(t, cert, resolver.GuardConfig{})
	hc := dohClient(cert)
	m := new(dns.Msg)
	m.SetQuestion("www.example.org.", dns.TypeA)
	w, _ := m.Pack()
	for _, tc := range []struct {
		name   string
		pad    int // junk bytes after the query
		status int
	}{
		{"ordinary", 0, http.StatusOK},
		{"just under 64 KiB", dns.MaxMsgSize - len(w), http.StatusOK},
		{"one byte over", dns.MaxMsgSize - len(w) + 1, http.StatusRequestURITooLong},
		{"660 KB", 660_000, http.StatusRequestURITooLong},
	} {
		before := e.ups[0].Count()
		q := base64.RawURLEncoding.EncodeToString(append(w, make([]byte, tc.pad)...))
		resp, err := hc.Get("https://" + doh + "/dns-query?dns=" + q)
		switch {
		case err != nil && tc.status == http.StatusOK:
			t.Fatalf("%s: %.200v", tc.name, err)
		case err != nil:
			// Past the server's header limit (advertised in HTTP/2
			// SETTINGS), the client itself gives up: refused too.
		default:
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("%s: HTTP %d, want %d", tc.name, resp.StatusCode, tc.status)
			}
		}
		if tc.status != http.StatusOK && e.ups[0].Count() != before {
			t.Errorf("%s: the oversized query reached the upstream", tc.name)
		}
	}
}

// TestBlockLogStalledStdoutDoesNotHangClose: the block log writes to a
// pipe nobody reads (stdout of a process whose reader stopped). Close, as
// shutdown calls it, gives up on the stalled writer, and every line that
// was not written is counted as dropped.
func TestBlockLogStalledStdoutDoesNotHangClose(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	reg := prometheus.NewRegistry()
	bl := resolver.NewBlockLog(w, resolver.NewMetrics(reg), nil)
	const n = 5000 // far more than a pipe buffer holds
	for i := 0; i < n; i++ {
		bl.LogQName(fmt.Sprintf("host-%d.blocked.example", i))
	}
	closed := make(chan struct{})
	go func() { bl.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(time.Minute): // a failsafe, not a timing assertion
		t.Fatal("BlockLog.Close hung on a stalled writer")
	}
	dropped := metricValue(t, reg, "bulwark_blocklog_dropped_total")
	if dropped == 0 {
		t.Error("nothing counted as dropped with a stalled writer")
	}
	// What did reach the pipe plus what was counted covers every line.
	w.Close() // the abandoned writer's write ends when the pipe is drained
	b, _ := io.ReadAll(r)
	if got := float64(bytes.Count(b, []byte("\n"))) + dropped; got < n {
		t.Errorf("%v lines written + %v dropped < %d logged: lines lost without being counted", bytes.Count(b, []byte("\n")), dropped, n)
	}
}

// TestIPv6WildcardIsIPv6Only: "[::]:P" serves IPv6 only (IPV6_V6ONLY, as
// BIND and Unbound do), so that it can sit beside "0.0.0.0:P"; an IPv4
// client of that port reaches nothing. The sample configs list both
// wildcards for that reason (cmd/bulwark TestSampleWildcardsListBothFamilies).
func TestIPv6WildcardIsIPv6Only(t *testing.T) {
	pc, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	e := startEnv(t, phishingTable(t), envOpts{listenCfg: resolver.ListenConfig{DNS: []string{fmt.Sprintf("[::]:%d", port)}}})
	e.addr = fmt.Sprintf("[::1]:%d", port)
	for _, proto := range []string{"udp", "tcp"} {
		if resp := e.query(t, proto, "www.example.org", dns.TypeA, false); resp.Rcode != dns.RcodeSuccess {
			t.Errorf("%s over IPv6: %s", proto, dns.RcodeToString[resp.Rcode])
		}
	}
	v4 := fmt.Sprintf("127.0.0.1:%d", port)
	if c, err := net.Dial("tcp4", v4); err == nil {
		c.Close()
		t.Errorf("TCP %s accepted a connection: [::] is dual-stack", v4)
	}
	m := new(dns.Msg)
	m.SetQuestion("www.example.org.", dns.TypeA)
	if _, _, err := (&dns.Client{Net: "udp4", Timeout: 2 * time.Second}).Exchange(m, v4); err == nil {
		t.Errorf("UDP %s answered: [::] is dual-stack", v4)
	}
}
