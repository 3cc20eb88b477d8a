package pipeline

import (
	"context"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/resolver/cache"
	"github.com/bulwark-dns/bulwark/resolver/query"
)

// wireUpstream answers every A query as a forwarder relays an upstream's
// reply: in wire form, one address, the owner a pointer to the question;
// with nx, NXDOMAIN with the zone's SOA.
type wireUpstream struct{ nx bool }

// nxAuthority is an SOA for miss.example (the question's name ends at 12+9).
var nxAuthority = []byte{0xc0, 12 + 9, 0, 6, 0, 1, 0, 0, 3, 132, 0, 27,
	2, 'n', 's', 0xc0, 12 + 9, 0xc0, 12 + 9, 0, 0, 0, 1, 0, 0, 28, 32, 0, 0, 14, 16, 0, 18, 117, 0, 0, 0, 1, 44}

func (wireUpstream) Resolve(context.Context, *query.Request) (*dns.Msg, error) {
	panic("wireUpstream: the cache asks ResolveAnswer")
}

func (u wireUpstream) ResolveAnswer(_ context.Context, req *query.Request) (query.Answer, error) {
	w := make([]byte, 12, 96)
	binary.BigEndian.PutUint16(w[4:], 1)
	w, _ = packName(w, req.Question.Name)
	w = binary.BigEndian.AppendUint16(w, req.Question.Qtype)
	w = binary.BigEndian.AppendUint16(w, dns.ClassINET)
	if u.nx {
		binary.BigEndian.PutUint16(w[2:], 0x8183) // QR RD RA, NXDOMAIN
		binary.BigEndian.PutUint16(w[8:], 1)
		return query.Answer{Wire: append(w, nxAuthority...)}, nil
	}
	binary.BigEndian.PutUint16(w[2:], 0x8180) // QR RD RA
	binary.BigEndian.PutUint16(w[6:], 1)
	w = append(w, 0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 1)
	return query.Answer{Wire: w}, nil
}

func packName(w []byte, name string) ([]byte, error) {
	var buf [256]byte
	n, err := dns.PackDomainName(name, buf[:], 0, nil, false)
	return append(w, buf[:n]...), err
}

// BenchmarkServeMiss is one cache miss through Build's chain without
// sockets: parse, guard, policy, the cache's fetch from an upstream
// answering in wire form (as the forwarder does), the answer to the
// client. Each query is for a new name; the answer is an address or
// NXDOMAIN.
func BenchmarkServeMiss(b *testing.B) {
	b.Run("A", func(b *testing.B) { benchMiss(b, wireUpstream{}, 1) })
	b.Run("NXDOMAIN", func(b *testing.B) { benchMiss(b, wireUpstream{nx: true}, 0) })
}

func benchMiss(b *testing.B, up wireUpstream, answers byte) {
	cfg := cache.Config{Size: 1 << 20}
	cfg.SetDefaults()
	c := cache.New(cfg, up, clock.Real{}, nil, nil)
	b.Cleanup(c.Close)
	pl, err := Build(Parts{Tables: noTables{}, Cache: c})
	if err != nil {
		b.Fatal(err)
	}
	m := new(dns.Msg)
	m.SetQuestion("m0000000.miss.example.", dns.TypeA)
	m.SetEdns0(1232, false)
	pkt, _ := m.Pack()
	digits := pkt[12+2 : 12+2+7]
	client := netip.MustParseAddrPort("127.0.0.1:5353")
	out := make([]byte, 0, 1232)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		for j, v := len(digits)-1, i; j >= 0; j, v = j-1, v/10 {
			digits[j] = byte('0' + v%10)
		}
		if r := pl.Serve(context.Background(), pkt, client, query.ProtoUDP, out); len(r) < 12 || r[7] != answers {
			b.Fatalf("answer % x", r)
		}
	}
}

// noTables is a policy's lists with none loaded.
type noTables struct{}

func (noTables) Load() *blocklist.Table { return nil }
