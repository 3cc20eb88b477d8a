package dnssec

import (
	"crypto"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestSigMemo: a signature that verified is not verified again for the
// same key and records (a TTL counted down on the way is the same data),
// and nothing else — other records, another key, altered signature bytes —
// is let through by the memo.
func TestSigMemo(t *testing.T) {
	newKey := func() (*dns.DNSKEY, crypto.Signer) {
		k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: "example.", Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
			Flags: 257, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
		priv, err := k.Generate(256)
		if err != nil {
			t.Fatal(err)
		}
		return k, priv.(crypto.Signer)
	}
	key, priv := newKey()
	other, _ := newKey()
	a := func(ttl uint32, ip string) []dns.RR {
		rr, err := dns.NewRR("www.example. 300 IN A " + ip)
		if err != nil {
			t.Fatal(err)
		}
		rr.Header().Ttl = ttl
		return []dns.RR{rr}
	}
	now := time.Now()
	sig := &dns.RRSIG{Hdr: dns.RR_Header{Name: "www.example.", Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: 300},
		KeyTag: key.KeyTag(), SignerName: "example.", Algorithm: key.Algorithm,
		Inception: uint32(now.Add(-time.Hour).Unix()), Expiration: uint32(now.Add(time.Hour).Unix())}
	if err := sig.Sign(priv, a(300, "192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	altered := dns.Copy(sig).(*dns.RRSIG)
	first := "A" // another first base64 character: the signature changes whatever it was
	if sig.Signature[0] == 'A' {
		first = "B"
	}
	altered.Signature = first + sig.Signature[1:]

	m := newSigMemo(16)
	tests := []struct {
		name    string
		sig     *dns.RRSIG
		key     *dns.DNSKEY
		rrs     []dns.RR
		ok      bool
		entries int // remembered afterwards
	}{
		{"first verification", sig, key, a(300, "192.0.2.1"), true, 1},
		{"the same again", sig, key, a(300, "192.0.2.1"), true, 1},
		{"TTL counted down", sig, key, a(42, "192.0.2.1"), true, 1},
		{"other data", sig, key, a(300, "192.0.2.66"), false, 1},
		{"other key", sig, other, a(300, "192.0.2.1"), false, 1},
		{"altered signature", altered, key, a(300, "192.0.2.1"), false, 1},
	}
	for _, tt := range tests {
		err := m.verify(tt.sig, tt.key, tt.rrs)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err %v, want ok %v", tt.name, err, tt.ok)
		}
		if n := m.c.Len(); n != tt.entries {
			t.Errorf("%s: %d remembered, want %d", tt.name, n, tt.entries)
		}
	}
}
