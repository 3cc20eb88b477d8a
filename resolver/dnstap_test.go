package resolver_test

import (
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	dnstappb "github.com/dnstap/golang-dnstap"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/resolver/dnstap"
)

// collector is a dnstap collector on a unix socket built from the
// library's own Frame Streams input, as fstrm_capture would be.
type collector struct {
	path   string
	frames chan []byte
}

func startCollector(t testing.TB) *collector {
	t.Helper()
	dir, err := os.MkdirTemp("", "tap") // t.TempDir() paths can exceed sun_path
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	c := &collector{path: filepath.Join(dir, "s"), frames: make(chan []byte, 1<<16)}
	ln, err := net.Listen("unix", c.path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				in, err := dnstappb.NewFrameStreamInput(conn, true)
				if err != nil {
					return
				}
				in.ReadInto(c.frames)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return c
}

// next returns the next frame, decoded; it fails the test after a
// generous wait.
func (c *collector) next(t *testing.T) *dnstappb.Dnstap {
	t.Helper()
	select {
	case f := <-c.frames:
		var dt dnstappb.Dnstap
		if err := proto.Unmarshal(f, &dt); err != nil {
			t.Fatalf("frame does not decode: %v", err)
		}
		return &dt
	case <-time.After(10 * time.Second):
		t.Fatal("no dnstap frame arrived")
		return nil
	}
}

// TestDnstapThroughServer runs queries over UDP and TCP through the real
// server with dnstap on and checks the frames a collector receives.
func TestDnstapThroughServer(t *testing.T) {
	tab := buildTable(t, list{info: blocklist.ListInfo{Name: "evil", Action: blocklist.ActionNXDomain}, names: []string{"evil.example"}})
	e := startEnv(t, tab, envOpts{})
	col := startCollector(t)
	reg := prometheus.NewRegistry()
	tap, err := dnstap.New(dnstap.Config{Socket: "unix:" + col.path, Identity: "ns1.test"}, "v1", dnstap.NewMetrics(reg), nil)
	if err != nil {
		t.Fatal(err)
	}
	e.srv.SetObserver(tap)

	e.query(t, "udp", "www.example.org", dns.TypeA, true)
	e.query(t, "tcp", "evil.example", dns.TypeA, false)

	for _, want := range []struct {
		proto dnstappb.SocketProtocol
		qname string
		rcode int
	}{
		{dnstappb.SocketProtocol_UDP, "www.example.org.", dns.RcodeSuccess},
		{dnstappb.SocketProtocol_TCP, "evil.example.", dns.RcodeNameError},
	} {
		q, r := col.next(t), col.next(t)
		if string(q.Identity) != "ns1.test" || string(q.Version) != "bulwark v1" {
			t.Errorf("identity %q version %q", q.Identity, q.Version)
		}
		qm, rm := q.GetMessage(), r.GetMessage()
		if qm.GetType() != dnstappb.Message_CLIENT_QUERY || rm.GetType() != dnstappb.Message_CLIENT_RESPONSE {
			t.Fatalf("frame types %v, %v", qm.GetType(), rm.GetType())
		}
		for _, m := range []*dnstappb.Message{qm, rm} {
			if m.GetSocketProtocol() != want.proto || m.GetSocketFamily() != dnstappb.SocketFamily_INET {
				t.Errorf("%s %v: protocol %v family %v", want.qname, m.GetType(), m.GetSocketProtocol(), m.GetSocketFamily())
			}
			if !net.IP(m.GetQueryAddress()).Equal(net.IPv4(127, 0, 0, 1)) || m.GetQueryPort() == 0 {
				t.Errorf("%s %v: query address %v port %d", want.qname, m.GetType(), net.IP(m.GetQueryAddress()), m.GetQueryPort())
			}
		}
		var query, resp dns.Msg
		if err := query.Unpack(qm.GetQueryMessage()); err != nil || query.Question[0].Name != want.qname {
			t.Errorf("query message %v (%v), want %s", query.Question, err, want.qname)
		}
		if err := resp.Unpack(rm.GetResponseMessage()); err != nil || resp.Rcode != want.rcode || resp.Id != query.Id {
			t.Errorf("%s: response rcode %d id %d (%v), want rcode %d id %d", want.qname, resp.Rcode, resp.Id, err, want.rcode, query.Id)
		}
		qt := time.Unix(int64(qm.GetQueryTimeSec()), int64(qm.GetQueryTimeNsec()))
		rt := time.Unix(int64(rm.GetResponseTimeSec()), int64(rm.GetResponseTimeNsec()))
		if d := time.Since(qt); d < 0 || d > time.Minute || rt.Before(qt) {
			t.Errorf("%s: query time %v, response time %v", want.qname, qt, rt)
		}
	}
	tap.Close()
	if sent := metricValue(t, reg, "bulwark_dnstap_sent_total"); sent != 4 {
		t.Errorf("sent = %v, want 4", sent)
	}
	if dropped := metricValue(t, reg, "bulwark_dnstap_dropped_total"); dropped != 0 {
		t.Errorf("dropped = %v, want 0", dropped)
	}
	// A query after Close is dropped and counted, never blocks.
	e.query(t, "udp", "www.example.org", dns.TypeA, false)
	if dropped := metricValue(t, reg, "bulwark_dnstap_dropped_total"); dropped != 2 {
		t.Errorf("dropped after Close = %v, want 2", dropped)
	}
	select {
	case f := <-col.frames:
		t.Errorf("frame after Close: %d bytes", len(f))
	default:
	}
}
