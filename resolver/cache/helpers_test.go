package cache

import (
	"github.com/bulwark-dns/bulwark/resolver/dnswire"
	contract "github.com/bulwark-dns/bulwark/resolver/query"

	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/miekg/dns"
)

// epoch is where every fake clock starts.
func epoch() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

// fakeNext is a fake upstream: it counts calls and answers with reply.
type fakeNext struct {
	calls atomic.Int64
	mu    sync.Mutex
	reply func(ctx context.Context, req *contract.Request) (*dns.Msg, error)
}

func (f *fakeNext) Resolve(ctx context.Context, req *contract.Request) (*dns.Msg, error) {
	f.calls.Add(1)
	f.mu.Lock()
	reply := f.reply
	f.mu.Unlock()
	return reply(ctx, req)
}

// set replaces the answer function (e.g. to make the upstream fail).
func (f *fakeNext) set(reply func(ctx context.Context, req *contract.Request) (*dns.Msg, error)) {
	f.mu.Lock()
	f.reply = reply
	f.mu.Unlock()
}

func (f *fakeNext) n() int { return int(f.calls.Load()) }

// answer returns a reply function giving one A record with ttl per call.
func answer(ttl uint32) func(context.Context, *contract.Request) (*dns.Msg, error) {
	return func(_ context.Context, req *contract.Request) (*dns.Msg, error) {
		return reply(req, dns.RcodeSuccess, []dns.RR{a(req.Question.Name, ttl, "192.0.2.1")}, nil), nil
	}
}

// fixed returns a reply function answering every request with m's sections.
func fixed(rcode int, ans, ns []dns.RR) func(context.Context, *contract.Request) (*dns.Msg, error) {
	return func(_ context.Context, req *contract.Request) (*dns.Msg, error) {
		return reply(req, rcode, ans, ns), nil
	}
}

func failing(err error) func(context.Context, *contract.Request) (*dns.Msg, error) {
	return func(context.Context, *contract.Request) (*dns.Msg, error) { return nil, err }
}

// reply builds what an upstream would return: a response to the question
// with RA set and no OPT (the forwarder strips it). Records are deep-copied so
// that tests can reuse them.
func reply(req *contract.Request, rcode int, ans, ns []dns.RR) *dns.Msg {
	m := new(dns.Msg)
	m.SetRcode(req.Msg, rcode)
	m.RecursionAvailable = true
	for _, rr := range ans {
		m.Answer = append(m.Answer, dns.Copy(rr))
	}
	for _, rr := range ns {
		m.Ns = append(m.Ns, dns.Copy(rr))
	}
	return m
}

func a(name string, ttl uint32, ip string) *dns.A {
	return &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: net.ParseIP(ip).To4()}
}

func soa(zone string, ttl, minttl uint32) *dns.SOA {
	return &dns.SOA{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns: "ns." + zone, Mbox: "host." + zone, Serial: 1, Refresh: 7200, Retry: 3600, Expire: 1209600, Minttl: minttl}
}

// query builds a client request as the listener would.
func query(name string, qtype uint16, do, cd bool) *contract.Request {
	return dnstest.Request(name, qtype, do, cd)
}

// testConfig is the default config with a small size and prefetch off, so
// tests see only the behaviour they ask for.
func testConfig() Config {
	off := false
	c := Config{Size: 1000, Prefetch: &off}
	c.SetDefaults()
	return c
}

// newTest returns a cache over next with a fake clock; it is closed at cleanup.
func newTest(t testing.TB, cfg Config, next contract.Resolver, m *Metrics) (*Cache, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(epoch())
	c := New(cfg, next, clk, m, nil)
	t.Cleanup(c.Close)
	return c, clk
}

// resolve calls c.Resolve and fails the test on error.
func resolve(t testing.TB, c *Cache, req *contract.Request) *dns.Msg {
	t.Helper()
	m, err := c.Resolve(context.Background(), req)
	if err != nil {
		t.Fatalf("Resolve(%s): %v", req.Question.Name, err)
	}
	return m
}

// ttls lists the TTL of every record in every section of m.
func ttls(m *dns.Msg) []uint32 {
	var out []uint32
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			out = append(out, rr.Header().Ttl)
		}
	}
	return out
}

// testEntry returns an entry whose body is n bytes or a little more: one
// TXT record padded to size.
func testEntry(t testing.TB, n int) *entry {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion("x.", dns.TypeTXT)
	txt := &dns.TXT{Hdr: dns.RR_Header{Name: "x.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 300}}
	for pad := max(n-40, 1); pad > 0; pad -= 255 {
		txt.Txt = append(txt.Txt, strings.Repeat("a", min(pad, 255)))
	}
	m.Answer = []dns.RR{txt}
	wire, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	body, _, ok := newBody(wire, nil, func(dnswire.RR, uint32) uint32 { return 300 })
	if !ok {
		t.Fatal("test entry does not pack")
	}
	e := &entry{body: body}
	e.life = int64(300 * time.Second)
	return e
}

// waiting counts the flights for name that a second miss has joined.
func (f *flights) waiting(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for k, fl := range f.calls {
		if k.name == name && fl.shared {
			n++
		}
	}
	return n
}
