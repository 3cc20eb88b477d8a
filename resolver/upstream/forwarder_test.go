package upstream

import (
	"context"
	"errors"
	"github.com/prometheus/client_golang/prometheus"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
)

const (
	long  = 10 * time.Second // a budget no passing test comes close to
	short = 300 * time.Millisecond
	// medium is a try timeout a silent server uses up but a working one
	// never reaches, even on a loaded machine.
	medium = time.Second
)

func TestResolveUDP(t *testing.T) {
	tests := []struct {
		name       string
		rd, cd, do bool
	}{
		{"RD", true, false, false},
		{"RD CD DO", true, true, true},
		{"none", false, false, false},
		{"DO only", false, false, true},
	}
	s := dnstest.Start(t)
	s.Add("www.example.com. 300 IN A 192.0.2.1")
	f, reg := forwarder(t, long, long, s)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Reset()
			m, err := f.Resolve(context.Background(), request("WWW.example.com.", dns.TypeA, tt.rd, tt.cd, tt.do))
			if err != nil {
				t.Fatal(err)
			}
			if m.Rcode != dns.RcodeSuccess || !m.Authoritative || len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != "192.0.2.1" {
				t.Errorf("got %v, want authoritative 192.0.2.1", m)
			}
			if hasOPT(m) {
				t.Errorf("returned msg has an OPT: %v", m.Extra)
			}
			qs := s.Queries()
			if len(qs) != 1 {
				t.Fatalf("upstream saw %d queries, want 1", len(qs))
			}
			q := qs[0]
			if q.Proto != "udp" || q.Name != "WWW.example.com." || q.Type != dns.TypeA {
				t.Errorf("upstream saw %s %s %s", q.Proto, q.Name, dns.TypeToString[q.Type])
			}
			if q.RD != tt.rd || q.CD != tt.cd || q.DO != tt.do {
				t.Errorf("upstream saw RD=%v CD=%v DO=%v, want %v %v %v", q.RD, q.CD, q.DO, tt.rd, tt.cd, tt.do)
			}
			if q.OPT == nil || q.OPT.UDPSize() != ednsSize || len(q.OPT.Option) != 0 || q.OPT.Version() != 0 {
				t.Errorf("upstream saw OPT %v, want ours: size %d, no options", q.OPT, ednsSize)
			}
		})
	}
	wantMetrics(t, reg, s.Addr, map[string]float64{"success": float64(len(tests))})
}

func TestRandomIDAndPort(t *testing.T) {
	s := dnstest.Start(t, dnstest.WithWildcard())
	f, _ := forwarder(t, long, long, s)
	req := request("x.example.", dns.TypeA, true, false, false)
	for range 8 {
		if _, err := f.Resolve(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	ids, ports := map[uint16]bool{}, map[int]bool{}
	for _, q := range s.Queries() {
		ids[q.ID], ports[q.SrcPort] = true, true
	}
	// Equal values by chance are fine; eight identical ones are not random.
	if len(ids) < 2 || len(ports) < 2 {
		t.Errorf("8 queries used %d IDs and %d source ports, want random ones", len(ids), len(ports))
	}
}

func TestTruncatedRetriesOverTCP(t *testing.T) {
	s := dnstest.Start(t, dnstest.WithWildcard())
	s.SetTruncateUDP(true)
	f, reg := forwarder(t, long, long, s)
	m, err := f.Resolve(context.Background(), request("big.example.", dns.TypeA, true, false, true))
	if err != nil {
		t.Fatal(err)
	}
	if m.Truncated || len(m.Answer) != 1 || hasOPT(m) {
		t.Errorf("got %v, want the full TCP answer without OPT", m)
	}
	var protos []string
	for _, q := range s.Queries() {
		protos = append(protos, q.Proto)
		if q.OPT == nil || !q.DO {
			t.Errorf("%s query lacks our OPT with DO", q.Proto)
		}
	}
	if strings.Join(protos, ",") != "udp,tcp" {
		t.Errorf("upstream saw %v, want udp then tcp", protos)
	}
	wantMetrics(t, reg, s.Addr, map[string]float64{"truncated": 1, "success": 1})
}

func TestFailover(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(*dnstest.Server)
		result string
		cause  error
	}{
		{"timeout", func(s *dnstest.Server) { s.SetMode(dnstest.Timeout) }, "timeout", ErrTimeout},
		{"SERVFAIL", func(s *dnstest.Server) { s.SetMode(dnstest.ServFail) }, "servfail", ErrServFail},
		{"REFUSED", func(s *dnstest.Server) { s.SetMode(dnstest.Refused) }, "refused", ErrRefused},
		{"only forged replies", func(s *dnstest.Server) {
			s.SetMode(dnstest.Timeout)
			s.SetSpoof(dnstest.SpoofID | dnstest.SpoofQuestion)
		}, "mismatch", ErrMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := dnstest.Start(t, dnstest.WithWildcard())
			good := dnstest.Start(t, dnstest.WithWildcard())
			tt.setup(bad)
			f, reg := forwarder(t, long, short, bad, good)
			m, err := f.Resolve(context.Background(), request("x.example.", dns.TypeA, true, false, false))
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != dnstest.WildcardA {
				t.Errorf("got %v, want the second server's answer", m.Answer)
			}
			if bad.Count() != 1 || good.Count() != 1 {
				t.Errorf("queries: first %d, second %d; want 1 each", bad.Count(), good.Count())
			}
			wantMetrics(t, reg, bad.Addr, map[string]float64{tt.result: 1})
			wantMetrics(t, reg, good.Addr, map[string]float64{"success": 1})
		})
	}
}

func TestFinalAnswersNotFailedOver(t *testing.T) {
	tests := []struct {
		name  string
		qname string
		qtype uint16
		rcode int
	}{
		{"NXDOMAIN", "nope.example.com.", dns.TypeA, dns.RcodeNameError},
		{"NODATA", "www.example.com.", dns.TypeAAAA, dns.RcodeSuccess},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := dnstest.Start(t, dnstest.WithZone("example.com."))
			first.Add("www.example.com. 300 IN A 192.0.2.1")
			second := dnstest.Start(t, dnstest.WithWildcard())
			f, _ := forwarder(t, long, long, first, second)
			m, err := f.Resolve(context.Background(), request(tt.qname, tt.qtype, true, false, false))
			if err != nil {
				t.Fatal(err)
			}
			if m.Rcode != tt.rcode || len(m.Answer) != 0 || len(m.Ns) != 1 || m.Ns[0].Header().Rrtype != dns.TypeSOA {
				t.Errorf("got %v, want %s with an SOA", m, dns.RcodeToString[tt.rcode])
			}
			if second.Count() != 0 {
				t.Errorf("second server asked %d times, want 0", second.Count())
			}
		})
	}
}

func TestAllFail(t *testing.T) {
	tests := []struct {
		name   string
		modes  [2]dnstest.Mode
		causes []error
		reason string
	}{
		{"timeouts", [2]dnstest.Mode{dnstest.Timeout, dnstest.Timeout}, []error{ErrTimeout}, "no answer within 900ms"},
		{"answers", [2]dnstest.Mode{dnstest.ServFail, dnstest.Refused}, []error{ErrServFail, ErrRefused}, "all 2 servers failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var srvs [2]*dnstest.Server
			for i, mode := range tt.modes {
				srvs[i] = dnstest.Start(t, dnstest.WithWildcard())
				srvs[i].SetMode(mode)
			}
			const budget = 900 * time.Millisecond
			f, _ := forwarder(t, budget, short, srvs[0], srvs[1])
			start := time.Now()
			m, err := f.Resolve(context.Background(), request("x.example.", dns.TypeA, true, false, false))
			if elapsed := time.Since(start); elapsed > budget+time.Second {
				t.Errorf("gave up after %v, budget %v", elapsed, budget)
			}
			if err == nil {
				t.Fatalf("got %v, want an error", m)
			}
			for _, c := range tt.causes {
				if !errors.Is(err, c) {
					t.Errorf("error %q does not wrap %v", err, c)
				}
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "upstream: "+tt.reason) || !strings.Contains(msg, srvs[0].Addr) || !strings.Contains(msg, srvs[1].Addr) {
				t.Errorf("error %q should say %q and name both servers", msg, tt.reason)
			}
			for i, s := range srvs {
				if s.Count() == 0 {
					t.Errorf("server %d never asked", i)
				}
			}
		})
	}
}

func TestSpoofedRepliesIgnored(t *testing.T) {
	tests := []struct {
		name  string
		spoof dnstest.Spoof
	}{
		{"wrong ID", dnstest.SpoofID},
		{"wrong question", dnstest.SpoofQuestion},
		{"both", dnstest.SpoofID | dnstest.SpoofQuestion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := dnstest.Start(t, dnstest.WithWildcard())
			s.SetSpoof(tt.spoof)
			s.SetDelay(20 * time.Millisecond) // the forgeries win the race
			f, reg := forwarder(t, long, long, s)
			m, err := f.Resolve(context.Background(), request("x.example.", dns.TypeA, true, false, false))
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != dnstest.WildcardA {
				t.Errorf("got %v, want the genuine %s", m.Answer, dnstest.WildcardA)
			}
			if s.Count() != 1 {
				t.Errorf("asked %d times, want 1", s.Count())
			}
			wantMetrics(t, reg, s.Addr, map[string]float64{"success": 1})
		})
	}
}

func TestUpstreamEDNSNotReturned(t *testing.T) {
	s := dnstest.Start(t, dnstest.WithWildcard())
	s.SetEDNSOptions(
		&dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: "6e73"},
		&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708aabbccddeeff0011"},
		&dns.EDNS0_PADDING{Padding: make([]byte, 64)},
	)
	f, _ := forwarder(t, long, long, s)
	m, err := f.Resolve(context.Background(), request("x.example.", dns.TypeA, true, false, true))
	if err != nil {
		t.Fatal(err)
	}
	if hasOPT(m) || m.IsEdns0() != nil || len(m.Answer) != 1 {
		t.Errorf("got %v, want the answer without any OPT", m)
	}
}

func TestContext(t *testing.T) {
	t.Run("cancelled while waiting", func(t *testing.T) {
		s := dnstest.Start(t)
		s.SetMode(dnstest.Timeout)
		f, reg := forwarder(t, long, 5*time.Second, s)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		start := time.Now()
		go func() {
			_, err := f.Resolve(ctx, request("x.example.", dns.TypeA, true, false, false))
			done <- err
		}()
		for i := 0; s.Count() == 0 && i < 500; i++ {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		err := <-done
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
		if elapsed := time.Since(start); elapsed > 4*time.Second { // well under the 5s try
			t.Errorf("returned after %v; cancellation did not interrupt the read", elapsed)
		}
		wantMetrics(t, reg, s.Addr, nil) // the client left; not the upstream's fault
	})
	t.Run("cancelled before", func(t *testing.T) {
		s := dnstest.Start(t, dnstest.WithWildcard())
		f, _ := forwarder(t, long, long, s)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := f.Resolve(ctx, request("x.example.", dns.TypeA, true, false, false)); !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
		if s.Count() != 0 {
			t.Errorf("sent %d queries for a cancelled request", s.Count())
		}
	})
	t.Run("deadline before timeout", func(t *testing.T) {
		s := dnstest.Start(t)
		s.SetMode(dnstest.Timeout)
		f, _ := forwarder(t, long, 5*time.Second, s)
		ctx, cancel := context.WithTimeout(context.Background(), short)
		defer cancel()
		start := time.Now()
		if _, err := f.Resolve(ctx, request("x.example.", dns.TypeA, true, false, false)); err == nil {
			t.Error("got an answer, want an error")
		}
		if elapsed := time.Since(start); elapsed > short+time.Second {
			t.Errorf("returned after %v, ctx deadline %v", elapsed, short)
		}
	})
}

func TestNilMetricsAndLogger(t *testing.T) {
	s := dnstest.Start(t, dnstest.WithWildcard())
	f, err := New(Config{Servers: []string{s.Addr}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Resolve(context.Background(), request("x.example.", dns.TypeA, true, false, false)); err != nil {
		t.Fatal(err)
	}
}

func TestTimedOutServerAskedAgain(t *testing.T) {
	s := dnstest.Start(t, dnstest.WithWildcard())
	s.SetMode(dnstest.Timeout)
	go func() { // answer from the second query on: the first was "lost"
		for i := 0; s.Count() == 0 && i < 5000; i++ {
			time.Sleep(time.Millisecond)
		}
		s.SetMode(dnstest.Answer)
	}()
	f, reg := forwarder(t, long, time.Second, s)
	if _, err := f.Resolve(context.Background(), request("x.example.", dns.TypeA, true, false, false)); err != nil {
		t.Fatal(err)
	}
	timeouts := requests(t, reg, s.Addr, "timeout")
	if timeouts < 1 || s.Count() != int(timeouts)+1 {
		t.Errorf("%d queries, %v timeouts; want the timed-out server asked again", s.Count(), timeouts)
	}
}

func TestIPv6Upstream(t *testing.T) {
	if pc, err := net.ListenPacket("udp", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		pc.Close()
	}
	s := dnstest.Start(t, dnstest.WithAddr("[::1]:0"), dnstest.WithWildcard())
	s.SetTruncateUDP(true)
	f, reg := forwarder(t, long, long, s)
	m, err := f.Resolve(context.Background(), request("x.example.", dns.TypeAAAA, true, false, false))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Answer) != 1 {
		t.Errorf("answer %v", m.Answer)
	}
	wantMetrics(t, reg, s.Addr, map[string]float64{"truncated": 1, "success": 1})
}

// BenchmarkForward measures a forwarded UDP query against a dnstest server
// in the same process (its allocations count too), next to miekg/dns's
// client on the same path as the baseline.
func BenchmarkForward(b *testing.B) {
	s := dnstest.Start(b, dnstest.WithWildcard())
	b.Run("forwarder", func(b *testing.B) {
		f, _ := forwarder(b, long, long, s)
		req := request("bench.example.", dns.TypeA, true, false, false)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.Resolve(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline=dns.Client", func(b *testing.B) {
		c := &dns.Client{Timeout: long}
		q := new(dns.Msg).SetQuestion("bench.example.", dns.TypeA)
		q.SetEdns0(ednsSize, false)
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := c.Exchange(q, s.Addr); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Forget removes every series of a server a reload dropped, and only its.
func TestMetricsForget(t *testing.T) {
	a := dnstest.Start(t, dnstest.WithWildcard())
	b := dnstest.Start(t, dnstest.WithWildcard())
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	f, err := New(Config{Servers: []string{a.Addr, b.Addr}}, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	resolveOK(t, f, "forget.example.")
	m.Forget(a.Addr)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sawB bool
	for _, mf := range mfs {
		for _, s := range mf.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "upstream" && l.GetValue() == a.Addr {
					t.Errorf("%s{upstream=%s} still exported", mf.GetName(), a.Addr)
				}
				sawB = sawB || l.GetName() == "upstream" && l.GetValue() == b.Addr
			}
		}
	}
	if !sawB {
		t.Error("the other server's series went too")
	}
}
