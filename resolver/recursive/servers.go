package recursive

import (
	"net/netip"

	"github.com/miekg/dns"
)

// Servers reports the authoritative servers the resolver uses for name:
// the name servers of the deepest zone cut it holds fresh at or above
// name, each with the addresses it knows for it (none when it never
// looked them up). It is what RPZ's rpz-nsdname and rpz-nsip triggers
// are matched against (resolver/pipeline/rpz.go); after a resolution of
// name (or its cached answer) the cut it used is the one reported. fn
// must not keep addrs. The root's servers are not reported: no policy
// names them.
func (r *Resolver) Servers(name string, fn func(host string, addrs []netip.Addr)) {
	now := r.clock.Now()
	zone := dns.CanonicalName(name)
	for zone != "." {
		if d, ok := r.caches.delegation(zone, now); ok {
			var buf [4]netip.Addr
			for _, host := range d.ns {
				h := r.caches.hostAddrs(host, now)
				addrs := append(append(buf[:0], h.v4.addrs...), h.v6.addrs...)
				fn(host, addrs)
			}
			return
		}
		zone = parent(zone)
	}
}
