package blocklist

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/bulwark-dns/bulwark/internal/netprefix"
)

// Trigger is what an RPZ rule is matched against (draft-vixie-dnsop-dns-rpz
// §4). Plain lists only have QName rules; the others come from RPZ owner
// names under rpz-client-ip, rpz-ip, rpz-nsdname and rpz-nsip. Their
// order is the order of precedence within one zone.
type Trigger uint8

const (
	// TriggerQName matches the query name (and CNAME targets).
	TriggerQName Trigger = iota
	// TriggerClientIP matches the client's address (after PROXY).
	TriggerClientIP
	// TriggerIP matches the A/AAAA addresses of the answer.
	TriggerIP
	// TriggerNSDName matches the names of the authoritative servers used.
	TriggerNSDName
	// TriggerNSIP matches the addresses of the authoritative servers used.
	TriggerNSIP
)

var triggerNames = [...]string{"qname", "rpz-client-ip", "rpz-ip", "rpz-nsdname", "rpz-nsip"}

// String returns the trigger as RPZ spells it ("qname" for the name).
func (t Trigger) String() string {
	if int(t) < len(triggerNames) {
		return triggerNames[t]
	}
	return "unknown"
}

// NetRule is one address trigger handed to NewNetSet.
type NetRule struct {
	Prefix  netip.Prefix
	Allow   bool
	Payload Payload
}

// NetMatch is the deciding address rule.
type NetMatch struct {
	Allow   bool
	Prefix  netip.Prefix
	Payload Payload
}

// NetSet holds the networks of one address trigger kind, list by list in
// config order. RPZ orders zones before specificity: the first list with
// a matching network decides, and within a list the longest prefix. It is
// immutable and safe for concurrent use; Match does not allocate.
type NetSet struct {
	lists []netList // ascending list index
	n     int
}

type netList struct {
	list uint16
	t    *netprefix.Table[NetMatch]
}

// NewNetSet builds the set of rules; nil when there are none, so callers
// test a table's trigger kinds with a nil check. At the same network in
// one list an allow rule wins (as for names); otherwise the first rule.
func NewNetSet(rules []NetRule) *NetSet {
	if len(rules) == 0 {
		return nil
	}
	rules = slices.Clone(rules)
	slices.SortStableFunc(rules, func(a, b NetRule) int {
		if c := cmp.Compare(a.Payload.List, b.Payload.List); c != 0 {
			return c
		}
		switch {
		case a.Allow && !b.Allow:
			return -1
		case b.Allow && !a.Allow:
			return 1
		}
		return 0
	})
	s := &NetSet{}
	for i := 0; i < len(rules); {
		j := i
		var es []netprefix.Entry[NetMatch]
		for ; j < len(rules) && rules[j].Payload.List == rules[i].Payload.List; j++ {
			r := rules[j]
			p := r.Prefix.Masked()
			es = append(es, netprefix.Entry[NetMatch]{Prefix: p, Value: NetMatch{Allow: r.Allow, Prefix: p, Payload: r.Payload}})
		}
		t := netprefix.NewTable(es)
		s.lists = append(s.lists, netList{list: rules[i].Payload.List, t: t})
		s.n += t.Len()
		i = j
	}
	return s
}

// Len returns the number of distinct networks held.
func (s *NetSet) Len() int {
	if s == nil {
		return 0
	}
	return s.n
}

// Match returns the rule deciding for a among the lists whose index is
// below before (pass a value above every list, e.g. NoList, for all): an
// earlier zone's decision is never overridden by a later zone's.
func (s *NetSet) Match(a netip.Addr, before int) (NetMatch, bool) {
	if s == nil {
		return NetMatch{}, false
	}
	for i := range s.lists {
		l := &s.lists[i]
		if int(l.list) >= before {
			break
		}
		if m, _, ok := l.t.Lookup(a); ok {
			return m, true
		}
	}
	return NetMatch{}, false
}

// NoList is above every list index: Match over every list.
const NoList = 1 << 16

// Replace returns s with every network of list replaced by rules (none:
// the list has no network any more), sharing the other lists' tables.
// An IXFR that changes one zone's address triggers thus rebuilds that
// zone's table only, and the zone keeps its place in list order. Every
// rule's Payload.List must be list. s is not changed; nil when no list
// has a network left.
func (s *NetSet) Replace(list uint16, rules []NetRule) *NetSet {
	mine := NewNetSet(rules)
	ns := &NetSet{}
	add := func(l netList) {
		ns.lists = append(ns.lists, l)
		ns.n += l.t.Len()
	}
	placed := mine == nil
	if s != nil {
		for _, l := range s.lists {
			if !placed && l.list >= list {
				add(mine.lists[0])
				placed = true
			}
			if l.list != list {
				add(l)
			}
		}
	}
	if !placed {
		add(mine.lists[0])
	}
	if len(ns.lists) == 0 {
		return nil
	}
	return ns
}
