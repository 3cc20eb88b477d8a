package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinaryDNSSECRecursive runs the binary in recursive mode, validating,
// against a hierarchy signed by BIND's tools and served by named, with the
// test root's DS as the trust anchor, and asks dig what a validating
// client sees for each case: AD on secure data, no AD on insecure data,
// SERVFAIL with the matching Extended DNS Error on bogus data, the data
// itself with CD set, and blocked names answered by policy.
func TestBinaryDNSSECRecursive(t *testing.T) {
	digPath := needDig(t)
	bt := standardTree(t)
	h := newE2EHost(t)
	port, admin := h.port, h.admin
	dir := writeFiles(t, map[string]string{"lists/block.txt": "blocked.secure.test\n"})
	cfg := h.listen() + fmt.Sprintf(`upstream:
  mode: recursive
recursion:
  root_hints: ["a.root-servers.test %s"]
  port: %d
  query_loopback: true
  ipv6: false
  timeout: 5s
dnssec:
  trust_anchor_file: "%s"
  nsec3_max_iterations: 10
blocklists:
  - name: block
    source: "file:lists/block.txt"
`, bt.ips[0], bt.port, bt.anchor)
	cfgPath := filepath.Join(dir, "bulwark.yaml")
	writeFile(t, cfgPath, cfg)
	p := startBulwark(t, admin, "-config", cfgPath)

	const ad = "flags: qr rd ra ad;"
	const noAD = "flags: qr rd ra;"
	cases := []digCase{
		{"secure answer with AD", []string{"+dnssec", "www.secure.test", "A"},
			[]string{"status: NOERROR", ad, "192.0.2.1", "RRSIG\tA 13"}, nil},
		{"AD without DO when asked with AD", []string{"+adflag", "www.secure.test", "A"},
			[]string{"status: NOERROR", ad}, []string{"RRSIG"}},
		{"no AD for a client asking neither", []string{"+noadflag", "www.secure.test", "A"},
			[]string{"status: NOERROR", noAD}, []string{"RRSIG"}},
		{"NSEC NXDOMAIN", []string{"+dnssec", "nope.secure.test", "A"}, []string{"status: NXDOMAIN", ad, "NSEC"}, nil},
		{"NSEC NODATA", []string{"+dnssec", "www.secure.test", "AAAA"}, []string{"status: NOERROR", ad, "ANSWER: 0"}, nil},
		{"NSEC empty non-terminal", []string{"+dnssec", "b.c.secure.test", "TXT"}, []string{"status: NOERROR", ad, "ANSWER: 0"}, nil},
		{"NSEC wildcard answer", []string{"+dnssec", "x.wild.secure.test", "A"}, []string{"status: NOERROR", ad, "192.0.2.9"}, nil},
		{"NSEC wildcard NODATA", []string{"+dnssec", "x.wild.secure.test", "MX"}, []string{"status: NOERROR", ad, "ANSWER: 0"}, nil},
		{"CNAME across zones", []string{"+dnssec", "cname.secure.test", "A"}, []string{"status: NOERROR", ad, "192.0.2.2"}, nil},
		{"NSEC3 answer", []string{"+dnssec", "www.nsec3.test", "A"}, []string{"status: NOERROR", ad, "192.0.2.2"}, nil},
		{"NSEC3 NXDOMAIN", []string{"+dnssec", "nope.nsec3.test", "A"}, []string{"status: NXDOMAIN", ad, "NSEC3"}, nil},
		{"NSEC3 NODATA", []string{"+dnssec", "www.nsec3.test", "AAAA"}, []string{"status: NOERROR", ad, "ANSWER: 0"}, nil},
		{"NSEC3 empty non-terminal", []string{"+dnssec", "c.nsec3.test", "A"}, []string{"status: NOERROR", ad, "ANSWER: 0"}, nil},
		{"NSEC3 wildcard answer", []string{"+dnssec", "x.wild.nsec3.test", "A"}, []string{"status: NOERROR", ad, "192.0.2.10"}, nil},
		{"NSEC3 wildcard NODATA", []string{"+dnssec", "x.wild.nsec3.test", "MX"}, []string{"status: NOERROR", ad, "ANSWER: 0"}, nil},
		{"opt-out: signed data", []string{"+dnssec", "www.optout.test", "A"}, []string{"status: NOERROR", ad, "192.0.2.3"}, nil},
		{"opt-out: insecure delegation", []string{"+dnssec", "www.child.optout.test", "A"}, []string{"status: NOERROR", noAD, "192.0.2.4"}, nil},
		{"insecure delegation", []string{"+dnssec", "www.insecure.test", "A"}, []string{"status: NOERROR", noAD, "192.0.2.5"}, nil},
		{"bogus signature", []string{"+dnssec", "www.bogus.test", "A"}, []string{"status: SERVFAIL", "EDE: 6 (DNSSEC Bogus)"}, []string{"203.0.113.66"}},
		{"CD on the bogus zone", []string{"+dnssec", "+cd", "www.bogus.test", "A"}, []string{"status: NOERROR", "flags: qr rd ra cd;", "203.0.113.66"}, nil},
		{"bogus again without CD (CD answer not reused)", []string{"+dnssec", "www.bogus.test", "A"}, []string{"status: SERVFAIL", "EDE: 6"}, nil},
		{"expired RRSIG", []string{"+dnssec", "www.expired.test", "A"}, []string{"status: SERVFAIL", "EDE: 7 (Signature Expired)"}, nil},
		{"not yet valid RRSIG", []string{"+dnssec", "www.future.test", "A"}, []string{"status: SERVFAIL", "EDE: 8 (Signature Not Yet Valid)"}, nil},
		{"missing DNSKEY", []string{"+dnssec", "www.nokey.test", "A"}, []string{"status: SERVFAIL", "EDE: 9 (DNSKEY Missing)"}, nil},
		{"DS not matching", []string{"+dnssec", "www.badds.test", "A"}, []string{"status: SERVFAIL", "EDE: 9 (DNSKEY Missing)"}, nil},
		{"unsupported algorithm (ED448) is insecure", []string{"+dnssec", "www.unsupported.test", "A"},
			[]string{"status: NOERROR", noAD, "192.0.2.13", "EDE: 1 (Unsupported DNSKEY Algorithm)"}, nil},
		{"KSK rollover with two DS", []string{"+dnssec", "www.rollover.test", "A"}, []string{"status: NOERROR", ad, "192.0.2.14"}, nil},
		{"NSEC3 iterations above the limit", []string{"+dnssec", "nope.iter.test", "A"},
			[]string{"status: NXDOMAIN", noAD, "EDE: 27"}, nil},
		{"blocked name: policy answers first", []string{"+dnssec", "blocked.secure.test", "A"},
			[]string{"status: NXDOMAIN", noAD, "EDE: 15 (Blocked)"}, []string{"192.0.2.99"}},
		{"secure answer over TCP from the cache", []string{"+dnssec", "+tcp", "www.secure.test", "A"}, []string{"status: NOERROR", ad}, nil},
	}
	runDigCases(t, digPath, port, cases)

	wantMetrics(t, admin, `bulwark_dnssec_results_total{result="secure"}`, `bulwark_dnssec_results_total{result="bogus"}`,
		`bulwark_dnssec_results_total{result="insecure"}`, `bulwark_dnssec_results_total{result="unchecked"} 1`)
	if !strings.Contains(p.stderr.String(), "dnssec: bogus answer") || !strings.Contains(p.stderr.String(), "reason=") {
		t.Errorf("bogus answers not logged with a reason:\n%s", p.stderr.String())
	}
	if t.Failed() {
		t.Logf("bulwark output:\n%s", p.stderr.String())
	}
}
