package cache

import (
	"net"
	"testing"

	"github.com/miekg/dns"
)

// TestDecodes pins the cheap check of a miss served in wire form on the
// answers it knows and the damage it must catch; FuzzDecodes holds it to
// the decoder on anything else.
func TestDecodes(t *testing.T) {
	pack := func(compress bool, ans, ns []dns.RR) []byte {
		m := new(dns.Msg).SetQuestion("www.example.", dns.TypeA)
		m.Response, m.Answer, m.Ns, m.Compress = true, ans, ns, compress
		w, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	mx := &dns.MX{Hdr: dns.RR_Header{Name: "www.example.", Rrtype: dns.TypeMX, Class: dns.ClassINET, Ttl: 60}, Preference: 10, Mx: "mx.www.example."}
	txt := &dns.TXT{Hdr: dns.RR_Header{Name: "www.example.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: []string{"v=spf1 -all", ""}}
	cname := &dns.CNAME{Hdr: dns.RR_Header{Name: "www.example.", Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 60}, Target: "cdn.www.example."}
	aaaa := &dns.AAAA{Hdr: dns.RR_Header{Name: "www.example.", Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: 60}, AAAA: net.ParseIP("2001:db8::1")}
	srv := &dns.SRV{Hdr: dns.RR_Header{Name: "www.example.", Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 60}, Target: "x.example."}
	good := pack(true, []dns.RR{cname, a("cdn.www.example.", 30, "192.0.2.1")}, nil)
	tests := []struct {
		name string
		wire []byte
		want bool
	}{
		{"A", pack(true, []dns.RR{a("www.example.", 300, "192.0.2.1")}, nil), true},
		{"CNAME chain, compressed", good, true},
		{"uncompressed", pack(false, []dns.RR{cname, aaaa, mx, txt}, nil), true},
		{"NXDOMAIN with SOA", pack(true, nil, []dns.RR{soa("example.", 300, 60)}), true},
		{"a type it does not know: decode to see", pack(true, []dns.RR{srv}, nil), false},
		{"A of 3 octets", func() []byte {
			w := pack(true, []dns.RR{a("www.example.", 300, "192.0.2.1")}, nil)
			w[len(w)-5] = 3
			return w[:len(w)-1]
		}(), false},
		{"a pointer into a label", func() []byte {
			w := append([]byte(nil), good...)
			w[len(w)-16+1]++ // the A's owner: a pointer to the CNAME target, one octet into it
			return w
		}(), false},
		{"cut short", good[:len(good)-2], false},
		{"trailing octets", append(append([]byte(nil), good...), 0), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decodes(tt.wire); got != tt.want {
				t.Errorf("decodes = %v, want %v", got, tt.want)
			}
			if decodes(tt.wire) {
				if err := new(dns.Msg).Unpack(tt.wire); err != nil {
					t.Errorf("decodes, but Unpack: %v", err)
				}
			}
		})
	}
}

// FuzzDecodes holds the cheap check to the decoder: whatever it passes,
// miekg/dns unpacks.
func FuzzDecodes(f *testing.F) {
	for _, rrs := range [][]dns.RR{
		{a("www.example.", 300, "192.0.2.1")},
		{soa("example.", 300, 60)},
	} {
		for _, compress := range []bool{false, true} {
			m := new(dns.Msg).SetQuestion("www.example.", dns.TypeA)
			m.Response, m.Answer, m.Compress = true, rrs, compress
			if w, err := m.Pack(); err == nil {
				f.Add(w)
			}
		}
	}
	f.Fuzz(func(t *testing.T, w []byte) {
		if decodes(w) {
			if err := new(dns.Msg).Unpack(w); err != nil {
				t.Fatalf("decodes(%x), but Unpack: %v", w, err)
			}
		}
	})
}
