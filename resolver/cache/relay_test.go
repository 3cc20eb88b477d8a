package cache

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/bulwark-dns/bulwark/resolver/dnswire"
	contract "github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/miekg/dns"
)

// wireNext is a next step answering in wire form, as the forwarder does.
type wireNext struct {
	calls atomic.Int64
	wire  func(req *contract.Request) []byte
}

func (w *wireNext) Resolve(context.Context, *contract.Request) (*dns.Msg, error) {
	return nil, errors.New("wireNext: Resolve called; the cache must ask ResolveAnswer")
}

func (w *wireNext) ResolveAnswer(_ context.Context, req *contract.Request) (contract.Answer, error) {
	w.calls.Add(1)
	return contract.Answer{Wire: w.wire(req)}, nil
}

// upstreamWire packs an upstream's reply to req uncompressed, with an
// upstream ID, so that its octets are told from any the cache would write.
func upstreamWire(t *testing.T, req *contract.Request, rcode int, ans, ns []dns.RR) []byte {
	t.Helper()
	m := reply(req, rcode, ans, ns)
	m.Id, m.Compress, m.Authoritative = 0xbeef, false, true
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRelayedAnswers pins the miss path of a next step that answers in
// wire form: what is cacheable is stored as received (only the ID and the
// TTL fields rewritten), served byte for byte (the client's ID and RD),
// and decoded for the asking client once; what is not is decoded and
// passed on; what does not decode fails the query (the pipeline's
// SERVFAIL) and is not stored.
func TestRelayedAnswers(t *testing.T) {
	brokenA := func(t *testing.T, req *contract.Request) []byte {
		w := upstreamWire(t, req, dns.RcodeSuccess, []dns.RR{a(req.Question.Name, 300, "192.0.2.1")}, nil)
		// RDLENGTH 3 and one octet fewer: the shape holds, the A does not.
		binary.BigEndian.PutUint16(w[len(w)-6:], 3)
		return w[:len(w)-1]
	}
	tests := []struct {
		name   string
		qtype  uint16
		wire   func(t *testing.T, req *contract.Request) []byte
		stored bool
		// ttls are the TTL fields of the stored wire, in record order.
		ttls  []uint32
		rcode int
		fails bool
	}{
		{name: "A", qtype: dns.TypeA, stored: true, ttls: []uint32{300}, wire: func(t *testing.T, req *contract.Request) []byte {
			return upstreamWire(t, req, dns.RcodeSuccess, []dns.RR{a(req.Question.Name, 300, "192.0.2.1")}, nil)
		}},
		{name: "CNAME chain", qtype: dns.TypeA, stored: true, ttls: []uint32{3600, 60}, wire: func(t *testing.T, req *contract.Request) []byte {
			c := &dns.CNAME{Hdr: dns.RR_Header{Name: req.Question.Name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 3600}, Target: "cdn.example.net."}
			return upstreamWire(t, req, dns.RcodeSuccess, []dns.RR{c, a("cdn.example.net.", 60, "192.0.2.7")}, nil)
		}},
		{name: "NXDOMAIN: the SOA carries the negative TTL", qtype: dns.TypeA, stored: true, ttls: []uint32{60}, rcode: dns.RcodeNameError,
			wire: func(t *testing.T, req *contract.Request) []byte {
				return upstreamWire(t, req, dns.RcodeNameError, nil, []dns.RR{soa("example.", 900, 60)})
			}},
		{name: "TTL 0: passed on, not stored", qtype: dns.TypeA, wire: func(t *testing.T, req *contract.Request) []byte {
			return upstreamWire(t, req, dns.RcodeSuccess, []dns.RR{a(req.Question.Name, 0, "192.0.2.1")}, nil)
		}},
		{name: "YXDOMAIN: passed on, not stored", qtype: dns.TypeA, rcode: dns.RcodeYXDomain, wire: func(t *testing.T, req *contract.Request) []byte {
			return upstreamWire(t, req, dns.RcodeYXDomain, nil, nil)
		}},
		{name: "for another question: passed on, not stored", qtype: dns.TypeA, wire: func(t *testing.T, req *contract.Request) []byte {
			return upstreamWire(t, query("other.example.", dns.TypeA, false, false), dns.RcodeSuccess, []dns.RR{a("other.example.", 300, "192.0.2.1")}, nil)
		}},
		{name: "an A that does not decode: fails", qtype: dns.TypeA, wire: brokenA, fails: true},
		{name: "not a message: fails", qtype: dns.TypeA, fails: true, wire: func(*testing.T, *contract.Request) []byte { return []byte{1, 2, 3} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sent []byte
			next := &wireNext{}
			next.wire = func(req *contract.Request) []byte { sent = tt.wire(t, req); return sent }
			c, _ := newTest(t, testConfig(), next, nil)
			req := query("Www.Example.", tt.qtype, false, false)
			req.Msg.Id = 4242
			got, err := c.Resolve(context.Background(), req)
			if tt.fails {
				if err == nil {
					t.Fatalf("got\n%v\nwant an error (SERVFAIL)", got)
				}
				if c.Len() != 0 {
					t.Fatal("an answer that does not decode was stored")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Rcode != tt.rcode {
				t.Fatalf("rcode %d, want %d", got.Rcode, tt.rcode)
			}
			if stored := c.Len() == 1; stored != tt.stored {
				t.Fatalf("stored = %v, want %v", stored, tt.stored)
			}
			if !tt.stored {
				return
			}
			// The stored wire is the upstream's, ID 0, TTL fields the stored TTLs.
			e := c.store.get(c.key(req))
			want := append([]byte(nil), sent...)
			dnswire.SetID(want, 0)
			for i := range bodyRecords(e.body) {
				binary.BigEndian.PutUint32(want[bodyTTLOffset(e.body, i):], tt.ttls[i])
			}
			if !bytes.Equal(bodyWire(e.body), want) {
				t.Fatalf("stored\n%x\nwant the upstream's\n%x", bodyWire(e.body), want)
			}
			// Served byte for byte: the client's ID, RD and spelling.
			out, ok := c.AppendWire(nil, req, servesAll{})
			if !ok {
				t.Fatal("AppendWire declined a stored answer")
			}
			binary.BigEndian.PutUint16(want, 4242)
			if !bytes.Equal(out, want) {
				t.Fatalf("served\n%x\nwant\n%x", out, want)
			}
			// The leader's message is what the client reads from those octets.
			m := new(dns.Msg)
			if err := m.Unpack(out); err != nil {
				t.Fatal(err)
			}
			m.Compress = true
			if got.String() != m.String() {
				t.Fatalf("leader's answer\n%v\nwant\n%v", got, m)
			}
			if next.calls.Load() != 1 {
				t.Fatalf("next asked %d times", next.calls.Load())
			}
		})
	}
}

// servesAll is a ServesWire check that lets every answer skip the policy.
type servesAll struct{}

func (servesAll) ServesWire([]dns.RR) bool { return true }
