package dnstest

import (
	"testing"

	"github.com/miekg/dns"
)

// TestWildcardAnswer: a query gets AA, its question as asked, one A
// record owned by it and its OPT back; anything else gets nothing.
func TestWildcardAnswer(t *testing.T) {
	query := func(edns bool) []byte {
		m := new(dns.Msg).SetQuestion("MiXeD.Bench.Test.", dns.TypeA)
		m.Id = 0x1234
		if edns {
			m.SetEdns0(1232, true)
		}
		w, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	answer := query(false)
	answer[2] |= 0x80
	tests := []struct {
		name  string
		q     []byte
		reply bool
		edns  bool
	}{
		{"plain", query(false), true, false},
		{"with OPT", query(true), true, true},
		{"an answer", answer, false, false},
		{"short", query(false)[:11], false, false},
		{"cut in the question", query(false)[:20], false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := wildcardAnswer(nil, tt.q)
			if !tt.reply {
				if len(out) != 0 {
					t.Fatalf("answered % x", out)
				}
				return
			}
			m := new(dns.Msg)
			if err := m.Unpack(out); err != nil {
				t.Fatal(err)
			}
			if m.Id != 0x1234 || !m.Response || !m.Authoritative || m.Rcode != dns.RcodeSuccess ||
				len(m.Question) != 1 || m.Question[0].Name != "MiXeD.Bench.Test." || len(m.Answer) != 1 {
				t.Fatalf("reply %v", m)
			}
			if a, ok := m.Answer[0].(*dns.A); !ok || a.Hdr.Name != "MiXeD.Bench.Test." || a.A.String() != "192.0.2.1" || a.Hdr.Ttl != 300 {
				t.Errorf("answer %v", m.Answer[0])
			}
			if got := m.IsEdns0() != nil; got != tt.edns {
				t.Errorf("OPT %v, want %v", got, tt.edns)
			}
		})
	}
}
