package recursive

import (
	"bytes"
	"testing"

	"github.com/miekg/dns"
)

// TestCutOPT: a reply's OPT is cut when it is the last and only one, and
// the reply then decodes to what it decoded to with it (the extended
// rcode folded in, as the decoder folds it), but for the OPT; any other
// reply is left as it is.
func TestCutOPT(t *testing.T) {
	opt := func(ext uint16, options ...dns.EDNS0) *dns.OPT {
		o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}, Option: options}
		o.SetUDPSize(1232)
		o.SetExtendedRcode(ext)
		return o
	}
	glue := mustRR(t, "ns1.example.test. 300 IN A 192.0.2.53")
	tests := []struct {
		name  string
		extra []dns.RR
		rcode int
		cut   bool
	}{
		{"no OPT", []dns.RR{glue}, dns.RcodeSuccess, false},
		{"OPT alone", []dns.RR{opt(0)}, dns.RcodeSuccess, true},
		{"OPT after glue", []dns.RR{glue, opt(0)}, dns.RcodeSuccess, true},
		{"OPT with an option", []dns.RR{opt(0, &dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: "6e73"})}, dns.RcodeSuccess, true},
		{"extended rcode", []dns.RR{opt(dns.RcodeBadVers)}, dns.RcodeBadVers, true},
		{"OPT before glue", []dns.RR{opt(0), glue}, dns.RcodeSuccess, false},
		{"two OPTs", []dns.RR{opt(0), opt(0)}, dns.RcodeSuccess, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := new(dns.Msg).SetQuestion("www.example.test.", dns.TypeA)
			m.Response, m.Rcode = true, tt.rcode // Pack puts the upper bits in the OPT
			m.Answer = []dns.RR{mustRR(t, "www.example.test. 300 IN A 192.0.2.1")}
			m.Extra = tt.extra
			w, err := m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			want := new(dns.Msg)
			if err := want.Unpack(w); err != nil {
				t.Fatal(err)
			}
			orig := bytes.Clone(w)
			got, ext := cutOPT(w)
			if !tt.cut {
				if !bytes.Equal(got, orig) || ext != 0 {
					t.Fatalf("changed to % x (ext %d)", got, ext)
				}
				return
			}
			dec := new(dns.Msg)
			if err := dec.Unpack(got); err != nil {
				t.Fatal(err)
			}
			dec.Rcode |= ext << 4
			var extra []dns.RR
			for _, rr := range want.Extra {
				if rr.Header().Rrtype != dns.TypeOPT {
					extra = append(extra, rr)
				}
			}
			want.Extra = extra
			if dec.Rcode != tt.rcode || want.Rcode != tt.rcode {
				t.Errorf("rcode %d (with the OPT %d), want %d", dec.Rcode, want.Rcode, tt.rcode)
			}
			dec.Rcode, want.Rcode = 0, 0 // String prints nothing for an extended rcode
			if dec.String() != want.String() {
				t.Errorf("decodes to\n%v\nwant\n%v", dec, want)
			}
		})
	}
}
