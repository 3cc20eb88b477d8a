package dnssec

import (
	"crypto/sha256"
	"encoding/binary"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/miekg/dns"
)

// sigMemoSize bounds the signatures remembered as verified (32 bytes of
// key each, plus the LRU's bookkeeping: a few MB).
const sigMemoSize = 100000

// sigMemo remembers which (key, signature, RRset) triples verified, so the
// same signed data arriving again costs a hash instead of a public-key
// operation. Denial proofs make this pay: every NXDOMAIN in a zone carries
// the same closest-encloser and wildcard NSEC3 records, and a ring of
// NSEC3 records covers every other name (Unbound gets the same from its
// RRset cache keeping the validation status). The memo is keyed by the
// exact bytes verified, with TTLs zeroed (the signature covers the
// original TTL, not the one received), so any other data misses it;
// signature validity times are checked on every use, before the memo.
type sigMemo struct {
	c *lru.Cache[[sha256.Size]byte, struct{}]
}

func newSigMemo(size int) *sigMemo {
	c, _ := lru.New[[sha256.Size]byte, struct{}](size)
	return &sigMemo{c: c}
}

// verify is sig.Verify(k, rrs), skipped when the same triple verified
// before.
func (m *sigMemo) verify(sig *dns.RRSIG, k *dns.DNSKEY, rrs []dns.RR) error {
	key, ok := memoKey(sig, k, rrs)
	if ok {
		if _, hit := m.c.Get(key); hit {
			return nil
		}
	}
	if err := sig.Verify(k, rrs); err != nil {
		return err
	}
	if ok {
		m.c.Add(key, struct{}{})
	}
	return nil
}

// memoKey hashes the key, the signature and the records as packed, TTLs
// zeroed; ok is false when a record does not pack (then nothing is
// remembered).
func memoKey(sig *dns.RRSIG, k *dns.DNSKEY, rrs []dns.RR) (key [sha256.Size]byte, ok bool) {
	h := sha256.New()
	var buf []byte
	write := func(rr dns.RR) bool {
		if n := dns.Len(rr) + 16; cap(buf) < n {
			buf = make([]byte, n)
		}
		buf = buf[:cap(buf)]
		end, err := dns.PackRR(rr, buf, 0, nil, false)
		if err != nil {
			return false
		}
		w := buf[:end]
		i := 0 // skip the owner name (uncompressed) to its TTL
		for i < len(w) && w[i] != 0 {
			i += int(w[i]) + 1
		}
		if i+9 > len(w) {
			return false
		}
		clear(w[i+5 : i+9])
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(len(w)))
		h.Write(l[:])
		h.Write(w)
		return true
	}
	if !write(k) || !write(sig) {
		return key, false
	}
	for _, rr := range rrs {
		if !write(rr) {
			return key, false
		}
	}
	h.Sum(key[:0])
	return key, true
}
