package dnssec

import (
	"context"
	"testing"

	"github.com/miekg/dns"
)

// TestAggressiveNSEC (RFC 8198): once an NXDOMAIN from an NSEC-signed zone
// validated, other names its NSEC records prove absent are answered
// NXDOMAIN with AD without asking; names outside the proven spans, names
// that exist and NSEC3 zones are still asked; aggressive_nsec: false
// always asks.
func TestAggressiveNSEC(t *testing.T) {
	h := testHierarchy(t)
	steps := []struct {
		name  string
		rcode int
		// asked: the step reached the hierarchy (with aggressive_nsec on).
		asked bool
	}{
		{"nope1.secure.test.", dns.RcodeNameError, true},
		{"nope2.secure.test.", dns.RcodeNameError, false}, // the same span and wildcard proof
		{"nope3.secure.test.", dns.RcodeNameError, false},
		{"www.secure.test.", dns.RcodeSuccess, true},
		{"nope.wild.secure.test.", dns.RcodeSuccess, true}, // a wildcard answers it: never denied from memory
		{"nope4.secure.test.", dns.RcodeNameError, false},
		{"zzz.secure.test.", dns.RcodeNameError, true}, // another span
		{"nope1.nsec3.test.", dns.RcodeNameError, true},
		{"nope2.nsec3.test.", dns.RcodeNameError, true}, // NSEC3: not synthesized
	}
	for _, aggressive := range []bool{true, false} {
		v, _ := newTestValidator(t, h, func(c *Config) { c.AggressiveNSEC = &aggressive })
		for _, st := range steps {
			before := len(h.queries)
			resp, err := v.Resolve(context.Background(), query(st.name, dns.TypeA, true, false))
			if err != nil {
				t.Fatalf("aggressive %v, %s: %v", aggressive, st.name, err)
			}
			asked := len(h.queries) > before
			if resp.Rcode != st.rcode || !resp.AuthenticatedData || asked != (st.asked || !aggressive) {
				t.Errorf("aggressive %v, %s: rcode %s AD %v asked %v; want %s AD, asked %v", aggressive, st.name,
					dns.RcodeToString[resp.Rcode], resp.AuthenticatedData, asked, dns.RcodeToString[st.rcode], st.asked || !aggressive)
			}
			if resp.Rcode == dns.RcodeNameError {
				// The answer carries its proof: the SOA and NSEC records, signed.
				var soa, nsec, sigs int
				for _, rr := range resp.Ns {
					switch rr.(type) {
					case *dns.SOA:
						soa++
					case *dns.NSEC, *dns.NSEC3:
						nsec++
					case *dns.RRSIG:
						sigs++
					}
				}
				if soa != 1 || nsec == 0 || sigs < 1+nsec {
					t.Errorf("aggressive %v, %s: authority %v", aggressive, st.name, resp.Ns)
				}
			}
		}
	}
}
