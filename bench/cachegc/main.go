// Command cachegc fills the cache step with N answers and reports what the
// collector and the kernel see: run it with GODEBUG=gctrace=1 to read the
// mark phase of each collection, once the cache is full, idle and while
// serving hits. It uses only the cache's public API, so the same file
// measures any version of the package.
//
//	GODEBUG=gctrace=1 go run ./bench/cachegc -n 1000000
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/resolver/cache"
	contract "github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/miekg/dns"
)

// upstream answers like the Internet does, roughly: most names one or two
// A records, some a CNAME to a CDN name, some NXDOMAIN with the zone's SOA.
type upstream struct{}

func (upstream) Resolve(_ context.Context, req *contract.Request) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetReply(req.Msg)
	m.RecursionAvailable = true
	q := req.Question
	hdr := func(name string, t uint16, ttl uint32) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
	}
	h := len(q.Name) * 31
	for i := 0; i < len(q.Name); i++ {
		h = h*131 + int(q.Name[i])
	}
	ip := net.IPv4(198, 18, byte(h>>8), byte(h))
	switch (h & 0x7fffffff) % 20 {
	case 0, 1: // NXDOMAIN
		m.Rcode = dns.RcodeNameError
		zone := q.Name[strings.IndexByte(q.Name, '.')+1:]
		m.Ns = []dns.RR{&dns.SOA{Hdr: hdr(zone, dns.TypeSOA, 900), Ns: "ns1." + zone, Mbox: "hostmaster." + zone,
			Serial: 2026120201, Refresh: 7200, Retry: 3600, Expire: 1209600, Minttl: 300}}
	case 2, 3, 4: // CNAME to a CDN
		target := fmt.Sprintf("e%d.a.cdn.example.net.", h&0xffff)
		m.Answer = []dns.RR{&dns.CNAME{Hdr: hdr(q.Name, dns.TypeCNAME, 3600), Target: target},
			&dns.A{Hdr: hdr(target, dns.TypeA, 60), A: ip}}
	case 5, 6, 7: // two addresses
		m.Answer = []dns.RR{&dns.A{Hdr: hdr(q.Name, dns.TypeA, 300), A: ip},
			&dns.A{Hdr: hdr(q.Name, dns.TypeA, 300), A: net.IPv4(198, 19, byte(h>>8), byte(h))}}
	default:
		m.Answer = []dns.RR{&dns.A{Hdr: hdr(q.Name, dns.TypeA, 3600), A: ip}}
	}
	return m, nil
}

func rssKB() int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			var kb int
			fmt.Sscanf(strings.TrimSpace(l[6:]), "%d", &kb)
			return kb
		}
	}
	return 0
}

func main() {
	n := flag.Int("n", 1000000, "answers to cache")
	hits := flag.Int("hits", 2000000, "cache hits to serve after the fill (their garbage drives collections)")
	flag.Parse()

	cfg := cache.DefaultConfig()
	cfg.Size = *n
	cfg.MaxBytes = math.MaxInt // the entry count is the bound here
	off := false
	cfg.Prefetch = &off
	c := cache.New(cfg, upstream{}, clock.Real{}, nil, nil)
	defer c.Close()

	reqs := func(i int) *contract.Request {
		m := new(dns.Msg)
		m.SetQuestion(fmt.Sprintf("host-%d.zone%d.example.com.", i, i%5000), dns.TypeA)
		return contract.NewRequest(m, netip.MustParseAddrPort("192.0.2.1:5353"), contract.ProtoUDP)
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	rss0 := rssKB()
	start := time.Now()
	for i := range *n {
		if _, err := c.Resolve(context.Background(), reqs(i)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	fill := time.Since(start)
	fmt.Fprintf(os.Stderr, "== filled %d entries in %s; forced collections follow\n", c.Len(), fill.Round(time.Millisecond))
	for range 3 {
		runtime.GC()
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	rss1 := rssKB()
	fmt.Fprintf(os.Stderr, "== serving %d hits; collections follow\n", *hits)
	start = time.Now()
	for i := range *hits {
		if _, err := c.Resolve(context.Background(), reqs((i*7919)%*n)); err != nil {
			os.Exit(1)
		}
	}
	hitDur := time.Since(start)
	fmt.Printf("entries %d\n", c.Len())
	fmt.Printf("heap_live_bytes_per_entry %.0f\n", float64(after.HeapAlloc-before.HeapAlloc)/float64(c.Len()))
	fmt.Printf("rss_kb_before %d rss_kb_after %d rss_bytes_per_entry %.0f\n", rss0, rss1, float64(rss1-rss0)*1024/float64(c.Len()))
	fmt.Printf("heap_objects %d\n", after.HeapObjects)
	fmt.Printf("fill_ns_per_entry %d hit_ns %d\n", fill.Nanoseconds()/int64(*n), hitDur.Nanoseconds()/int64(max(*hits, 1)))
	fmt.Printf("gc_pause_total_ms %.2f num_gc %d\n", float64(after.PauseTotalNs)/1e6, after.NumGC)
}
