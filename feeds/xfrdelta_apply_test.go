package feeds

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestApplyDeltaKeepsRRsetsTogether: the zone text an IXFR leaves has each
// owner's records adjacent, whatever order the delta map yields them in,
// so the RPZ parser reads one trigger per owner, as the overlay did. Each
// case runs many times because map iteration order is random.
func TestApplyDeltaKeepsRRsetsTogether(t *testing.T) {
	rr := func(s string) string {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return zoneLine(r)
	}
	soa, _ := dns.NewRR("rpz.test. 60 IN SOA ns.rpz.test. h.rpz.test. 2 3600 600 86400 60")
	body := func(lines ...string) string {
		return rr("rpz.test. 60 IN SOA ns.rpz.test. h.rpz.test. 1 3600 600 86400 60") + "\n" + strings.Join(lines, "\n") + "\n"
	}
	a1 := rr("a.example.rpz.test. 60 A 192.0.2.1")
	a2 := rr("a.example.rpz.test. 60 AAAA 2001:db8::1")
	b1 := rr("b.example.rpz.test. 60 CNAME .")
	c1 := rr("c.example.rpz.test. 60 A 192.0.2.3")
	c2 := rr("c.example.rpz.test. 60 AAAA 2001:db8::3")
	c3 := rr("c.example.rpz.test. 60 A 192.0.2.33")
	d1 := rr("d.example.rpz.test. 60 CNAME .")
	tests := []struct {
		name string
		body string
		net  map[string]bool
		want []string // the lines after the SOA, in order
	}{
		{"new owner with two records, among other additions", body(b1),
			map[string]bool{c1: true, c2: true, d1: true, a1: true, a2: true},
			[]string{b1, a1, a2, c1, c2, d1}},
		{"a record added to an owner already present", body(a1, b1),
			map[string]bool{a2: true}, []string{a1, a2, b1}},
		{"added beside the owner, deletion elsewhere", body(c1, b1, d1),
			map[string]bool{c3: true, d1: false, c2: true}, []string{c1, c3, c2, b1}},
		{"an addition already present is kept once", body(a1, b1),
			map[string]bool{a1: true, b1: false}, []string{a1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := zoneLine(soa) + "\n" + strings.Join(tc.want, "\n") + "\n"
			for range 50 {
				got := string(applyDelta([]byte(tc.body), soa.(*dns.SOA), tc.net))
				if got != want {
					t.Fatalf("got:\n%s\nwant:\n%s", got, want)
				}
			}
		})
	}

	// The parser reads the result as one sinkhole trigger per owner, with
	// every address the delta gave it.
	out := applyDelta([]byte(body(b1)), soa.(*dns.SOA), map[string]bool{c1: true, d1: true, c2: true, c3: true})
	p := run(ParseRPZ, string(out))
	if p.err != nil || len(p.rejects) != 0 {
		t.Fatalf("parse: %v %v", p.err, p.rejects)
	}
	if got := p.names(); !slices.Equal(got, []string{"b.example", "c.example", "d.example"}) {
		t.Fatalf("triggers %v, want one per owner", got)
	}
	wantAddrs := []netip.Addr{netip.MustParseAddr("192.0.2.3"), netip.MustParseAddr("2001:db8::3"), netip.MustParseAddr("192.0.2.33")}
	if got := p.entries[1].Addrs; !sameAddrs(got, wantAddrs) {
		t.Errorf("c.example addrs %v, want %v", got, wantAddrs)
	}
}

func sameAddrs(a, b []netip.Addr) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, netip.Addr.Compare)
	slices.SortFunc(b, netip.Addr.Compare)
	return slices.Equal(a, b)
}
