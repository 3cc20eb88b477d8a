package dnssec

import (
	"fmt"

	"github.com/miekg/dns"
)

// rootAnchors are the root zone's key-signing keys as DS records, from
// IANA's root-anchors.xml: KSK-2017 (tag 20326) and KSK-2024 (tag 38696).
// Both are trusted, so the 2026 rollover needs no configuration change.
// RFC 5011 tracking is not done: a future KSK comes with a new release or
// through trust_anchor_file.
var rootAnchors = []string{
	". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D",
	". IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16",
}

// anchor is the trusted DS set of one zone. A DNSKEY configured as an
// anchor is kept as the DS of it (SHA-256), which is what matching needs.
type anchor struct {
	zone string
	ds   []*dns.DS
}

// anchors builds the trust anchor table: the built-in root anchors, with
// the file's added (and the file's root anchors, if any, replacing ours).
func anchors(file string) (map[string]*anchor, error) {
	out := map[string]*anchor{}
	add := func(rr dns.RR) {
		var ds *dns.DS
		switch r := rr.(type) {
		case *dns.DS:
			ds = r
		case *dns.DNSKEY:
			ds = r.ToDS(dns.SHA256)
		}
		if ds == nil {
			return
		}
		zone := dns.CanonicalName(ds.Hdr.Name)
		a := out[zone]
		if a == nil {
			a = &anchor{zone: zone}
			out[zone] = a
		}
		a.ds = append(a.ds, ds)
	}
	if file != "" {
		rrs, err := readAnchorFile(file)
		if err != nil {
			return nil, err
		}
		for _, rr := range rrs {
			add(rr)
		}
	}
	if out["."] == nil {
		for _, s := range rootAnchors {
			rr, err := dns.NewRR(s)
			if err != nil {
				return nil, fmt.Errorf("built-in root anchor: %w", err)
			}
			add(rr)
		}
	}
	return out, nil
}
