package blocklist

import "net/netip"

// The selections of the RPZ triggers beyond the name, which the policy
// (resolver/pipeline/rpz.go) and explain (cmd/bulwark) both make with
// these, so that explain cannot decide otherwise than a query would. Each
// takes the lists before limit only (an earlier zone's decision wins) and
// those in view (nil: every list); docs/ARCHITECTURE.md, "The matching
// contract".

func inView(v View, list uint16) bool { return v == nil || v.Has(list) }

// ClientIPRule is the rpz-client-ip rule deciding for client.
func (t *Table) ClientIPRule(client netip.Addr, limit int, v View) (NetMatch, bool) {
	if t.ClientIP == nil {
		return NetMatch{}, false
	}
	m, hit := t.ClientIP.Match(client, limit)
	return m, hit && inView(v, m.Payload.List)
}

// AnswerIPRule is the rpz-ip rule deciding for an answer's addresses, a
// passthru included: of all the addresses' rules, the one in the earliest
// list; at is the address it holds.
func (t *Table) AnswerIPRule(addrs []netip.Addr, limit int, v View) (m NetMatch, at netip.Addr, found bool) {
	if t.IP == nil {
		return NetMatch{}, netip.Addr{}, false
	}
	for _, a := range addrs {
		if n, hit := t.IP.Match(a, limit); hit && inView(v, n.Payload.List) {
			m, at, found, limit = n, a, true, int(n.Payload.List) // later hits must be in earlier lists
		}
	}
	return m, at, found
}

// ServerRule is the rpz-nsdname or rpz-nsip rule deciding for one server,
// named host (empty: not known) at addrs, among the lists before limit: in
// one list a name before an address. byName says which trigger decides:
// name is then its rule (whose offset and scope name the rule in host),
// else addr.
func (t *Table) ServerRule(host string, addrs []netip.Addr, limit int, v View) (name Match, addr NetMatch, byName, found bool) {
	if t.NSDName != nil && host != "" {
		if n, ok := t.NSDName.Match(host); ok && int(n.Payload.List) < limit && inView(v, n.Payload.List) {
			name, byName, found, limit = n, true, true, int(n.Payload.List)
		}
	}
	if t.NSIP != nil {
		for _, a := range addrs {
			if n, ok := t.NSIP.Match(a, limit); ok && inView(v, n.Payload.List) {
				addr, byName, found, limit = n, false, true, int(n.Payload.List)
			}
		}
	}
	return name, addr, byName, found
}
