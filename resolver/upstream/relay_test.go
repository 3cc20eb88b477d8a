package upstream

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
)

// rawServer answers each UDP query on loopback with the datagrams replies
// makes from it (the query's bytes), so a test sends exactly the octets it
// means to.
func rawServer(t *testing.T, replies func(q []byte) [][]byte) string {
	t.Helper()
	pc := dnstest.ListenRawUDP(t)
	dnstest.ServeRawUDP(pc, func(q []byte, from netip.AddrPort) {
		for _, r := range replies(append([]byte(nil), q...)) {
			_, _ = pc.WriteToUDPAddrPort(r, from)
		}
	})
	return pc.LocalAddr().String()
}

// rawReply packs an answer to the query q (its ID and question), records
// as given, uncompressed so that the octets are not miekg/dns's choice.
func rawReply(t *testing.T, q []byte, rcode int, extra ...dns.RR) []byte {
	t.Helper()
	qm := new(dns.Msg)
	if err := qm.Unpack(q); err != nil {
		t.Fatal(err)
	}
	m := new(dns.Msg)
	m.SetRcode(qm, rcode)
	m.Extra = nil
	m.RecursionAvailable = true
	m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: qm.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300}, A: net.IPv4(192, 0, 2, 7)}}
	m.Extra = extra
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// optRR is an OPT record; miekg/dns writes the message's extended rcode into it.
func optRR(opts ...dns.EDNS0) *dns.OPT {
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}, Option: opts}
	o.SetUDPSize(1232)
	return o
}

// withoutLast drops the last record of the additional section of w, which
// is n octets long.
func withoutLast(w []byte, n int) []byte {
	out := append([]byte(nil), w[:len(w)-n]...)
	binary.BigEndian.PutUint16(out[10:], binary.BigEndian.Uint16(out[10:])-1)
	return out
}

// TestRelayedBytes pins what the forwarder hands on in wire form: the
// upstream's octets as received, but for its OPT record and anything after
// the last record; broken replies are waited past, as forged ones are.
func TestRelayedBytes(t *testing.T) {
	nsid := &dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: "abcd"}
	glue := &dns.A{Hdr: dns.RR_Header{Name: "ns.example.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 53)}
	optLen := func(t *testing.T, o *dns.OPT) int {
		b := make([]byte, 512)
		n, err := dns.PackRR(o, b, 0, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	tests := []struct {
		name    string
		replies func(t *testing.T, q []byte) [][]byte
		want    func(t *testing.T, sent [][]byte) []byte // nil: the query fails
		wantErr error
	}{
		{
			name:    "no OPT: byte for byte",
			replies: func(t *testing.T, q []byte) [][]byte { return [][]byte{rawReply(t, q, dns.RcodeSuccess)} },
			want:    func(t *testing.T, sent [][]byte) []byte { return sent[0] },
		},
		{
			name: "OPT last: cut off",
			replies: func(t *testing.T, q []byte) [][]byte {
				return [][]byte{rawReply(t, q, dns.RcodeSuccess, glue, optRR(nsid))}
			},
			want: func(t *testing.T, sent [][]byte) []byte { return withoutLast(sent[0], optLen(t, optRR(nsid))) },
		},
		{
			name: "octets after the last record: cut off",
			replies: func(t *testing.T, q []byte) [][]byte {
				return [][]byte{append(rawReply(t, q, dns.RcodeSuccess), 1, 2, 3)}
			},
			want: func(t *testing.T, sent [][]byte) []byte { return sent[0][:len(sent[0])-3] },
		},
		{
			name: "OPT not last: re-encoded without it",
			replies: func(t *testing.T, q []byte) [][]byte {
				return [][]byte{rawReply(t, q, dns.RcodeSuccess, optRR(nsid), glue)}
			},
			want: func(t *testing.T, sent [][]byte) []byte {
				m := new(dns.Msg)
				if err := m.Unpack(sent[0]); err != nil {
					t.Fatal(err)
				}
				stripOPT(m)
				m.Compress = true
				b, err := m.Pack()
				if err != nil {
					t.Fatal(err)
				}
				return b
			},
		},
		{
			name: "a broken reply first: waited past",
			replies: func(t *testing.T, q []byte) [][]byte {
				good := rawReply(t, q, dns.RcodeSuccess)
				broken := append([]byte(nil), good...)
				binary.BigEndian.PutUint16(broken[len(broken)-6:], 200) // RDLENGTH past the end
				return [][]byte{broken, good}
			},
			want: func(t *testing.T, sent [][]byte) []byte { return sent[1] },
		},
		{
			name: "two OPT records: dropped",
			replies: func(t *testing.T, q []byte) [][]byte {
				return [][]byte{rawReply(t, q, dns.RcodeSuccess, optRR(), optRR())}
			},
			wantErr: ErrMismatch,
		},
		{
			name: "an extended rcode (BADVERS) is not an answer",
			replies: func(t *testing.T, q []byte) [][]byte {
				return [][]byte{rawReply(t, q, dns.RcodeBadVers, optRR())} // ext rcode 1, header 0
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sent := make(chan [][]byte, 8)
			addr := rawServer(t, func(q []byte) [][]byte {
				r := tt.replies(t, q)
				sent <- r
				return r
			})
			f, err := New(Config{Servers: []string{addr}, Timeout: time.Second, TryTimeout: 300 * time.Millisecond}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			ans, err := f.ResolveAnswer(context.Background(), request("www.Example.org.", dns.TypeA, true, false, false))
			if tt.want == nil {
				if err == nil {
					t.Fatalf("got an answer, want an error:\n%x", ans.Wire)
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want(t, <-sent)
			if !bytes.Equal(ans.Wire, want) {
				t.Fatalf("relayed\n%x\nwant\n%x", ans.Wire, want)
			}
			if ans.Msg != nil {
				t.Fatal("ResolveAnswer decoded the reply")
			}
		})
	}
}
