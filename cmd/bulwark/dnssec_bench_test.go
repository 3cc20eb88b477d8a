package main

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	contract "github.com/bulwark-dns/bulwark/resolver/query"
)

// BenchmarkResolveValidation is validation's cost on a cache miss: the
// recursive backend (no cache in front) resolving from the BIND-served
// signed tree with delegations and keys already known, validating and
// not. Both ask with DO, so the difference is the validation itself:
// signature checks and, for negative answers, the NSEC/NSEC3 proof.
func BenchmarkResolveValidation(b *testing.B) {
	bt := startBindTree(b, standardZones)
	backend := func(validate bool) contract.Resolver {
		yaml := fmt.Sprintf(`listen:
  dns: ["127.0.0.1:0"]
upstream:
  mode: recursive
recursion:
  root_hints: ["a.root-servers.test 127.0.0.1"]
  port: %d
  query_loopback: true
  ipv6: false
dnssec:
  validate: %v
  trust_anchor_file: %q
`, bt.port, validate, bt.anchor)
		_, back := backendFor(b, yaml)
		return back
	}
	for _, q := range []struct {
		name  string
		qtype uint16
		rcode int
	}{{"www.secure.test.", dns.TypeA, dns.RcodeSuccess}, {"nope.nsec3.test.", dns.TypeA, dns.RcodeNameError}} {
		for _, validate := range []bool{false, true} {
			r := backend(validate)
			m := new(dns.Msg)
			m.SetQuestion(q.name, q.qtype)
			m.SetEdns0(1232, true)
			req := contract.NewRequest(m, netip.MustParseAddrPort("127.0.0.1:1"), contract.ProtoUDP)
			ctx := context.Background()
			resp, err := r.Resolve(ctx, req) // warm delegations and keys
			if err != nil || resp.Rcode != q.rcode || resp.AuthenticatedData != validate {
				b.Fatalf("%s validate=%v: %v\n%v", q.name, validate, err, resp)
			}
			b.Run(fmt.Sprintf("%s/validate=%v", q.name, validate), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := r.Resolve(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
