package recursive

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// packWithMsg is the reference: the query packQuery must write, octet for
// octet, built the dns.Msg way.
func packWithMsg(id uint16, name string, qtype uint16, edns, do bool) ([]byte, error) {
	m := &dns.Msg{
		MsgHdr:   dns.MsgHdr{Id: id, Opcode: dns.OpcodeQuery},
		Question: []dns.Question{{Name: name, Qtype: qtype, Qclass: dns.ClassINET}},
	}
	if edns {
		m.SetEdns0(ednsSize, do)
	}
	return m.Pack()
}

func TestPackQueryMatchesMsgPack(t *testing.T) {
	long := strings.Repeat(strings.Repeat("a", 63)+".", 3) + strings.Repeat("b", 61) + "."
	tests := []struct {
		name     string
		qtype    uint16
		edns, do bool
	}{
		{".", dns.TypeNS, true, false},
		{"com.", dns.TypeNS, false, false},
		{"www.example.test.", dns.TypeA, true, false},
		{"www.example.test.", dns.TypeAAAA, true, true},
		{"wWw.ExAmPlE.tEsT.", dns.TypeA, false, false}, // 0x20 case kept as sent
		{`a\.b.example.`, dns.TypeTXT, true, false},    // escaped dot inside a label
		{`\065\066.example.`, dns.TypeA, true, true},   // decimal escapes
		{`sp\ ace.example.`, dns.TypeMX, true, false},
		{"_443._tcp.example.", dns.TypeTLSA, true, true},
		{long, dns.TypeA, true, false}, // 255 octets on the wire
		{"x.", dns.TypeANY, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, id, err := packQuery(nil, tt.name, tt.qtype, tt.edns, tt.do)
			if err != nil {
				t.Fatalf("packQuery: %v", err)
			}
			want, err := packWithMsg(id, tt.name, tt.qtype, tt.edns, tt.do)
			if err != nil {
				t.Fatalf("dns.Msg.Pack: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("packQuery wrote\n%x\nwant (dns.Msg.Pack)\n%x", got, want)
			}
			m := new(dns.Msg)
			if err := m.Unpack(got); err != nil {
				t.Fatalf("own query does not unpack: %v", err)
			}
			if m.Id != id || m.RecursionDesired || m.CheckingDisabled || m.Question[0].Name != tt.name && !strings.Contains(tt.name, `\`) {
				t.Errorf("unpacked header %+v question %v", m.MsgHdr, m.Question)
			}
			if opt := m.IsEdns0(); (opt != nil) != tt.edns || opt != nil && (opt.UDPSize() != ednsSize || opt.Do() != tt.do) {
				t.Errorf("OPT %v, want edns=%v do=%v size %d", opt, tt.edns, tt.do, ednsSize)
			}
		})
	}
}

// TestPackQueryRefusesBadNames: a name dns.Msg.Pack refuses is refused
// too, with an error rather than a malformed packet.
func TestPackQueryRefusesBadNames(t *testing.T) {
	for _, name := range []string{
		"no-final-dot.example",
		strings.Repeat("a", 64) + ".example.", // label over 63 octets
		"a..b.",                               // empty label
	} {
		_, _, err := packQuery(nil, name, dns.TypeA, true, false)
		_, werr := packWithMsg(1, name, dns.TypeA, true, false)
		if err == nil || werr == nil {
			t.Errorf("%q: packQuery err %v, dns.Msg.Pack err %v; want both to fail", name, err, werr)
		}
		if werr != nil && err != nil && !errors.Is(err, werr) && err.Error() != werr.Error() {
			t.Errorf("%q: packQuery err %v, dns.Msg.Pack err %v", name, err, werr)
		}
	}
}

// BenchmarkPackQuery: the hand-written query beside the dns.Msg way, in
// the same run.
func BenchmarkPackQuery(b *testing.B) {
	const name = "wWw.ExAmPlE.tEsT."
	benchVsBaseline(b, "packQuery", func() error { _, _, err := packQuery(nil, name, dns.TypeA, true, false); return err },
		"dns.Msg.Pack", func() error { _, err := packWithMsg(1, name, dns.TypeA, true, false); return err })
}

// benchVsBaseline runs fn and the baseline it replaces as two
// sub-benchmarks of one run, so their ratio is measured under one load.
func benchVsBaseline(b *testing.B, name string, fn func() error, baseline string, base func() error) {
	for _, c := range []struct {
		name string
		fn   func() error
	}{{name, fn}, {"baseline=" + baseline, base}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.fn(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
