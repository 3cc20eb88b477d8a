package tenant

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/netprefix"
)

// Tenant is one compiled tenant. The default tenant (Name "") is what
// clients matching no tenant get.
type Tenant struct {
	// Name is the configured name; "" for the default.
	Name string
	// View is the lists that apply, for blocklist.Set.MatchView.
	View blocklist.View
	// LogClient is the client address log mode; "" for the global one.
	LogClient string
	// actions[i] is 1 + the overriding action of list i, 0 for none.
	actions []uint8
	// Sinkhole holds the tenant's own sinkhole addresses (nil: the list's).
	Sinkhole []netip.Addr
	// Index is the tenant's place in config order, from 1; 0 for the
	// default. Per-tenant counters are indexed by it, so that the query
	// path finds a tenant's series without a map.
	Index int
	// all says View holds every list, so that Set.Match decides as
	// MatchView would, at its cost.
	all bool
}

// AllLists reports whether the tenant's view holds every configured list,
// so that the policy may use the plain Set.Match.
func (t *Tenant) AllLists() bool { return t.all }

// ListView is the view t decides with, for blocklist.Table.DecideView:
// nil when t is nil or uses every list (the plain Set.Match), an empty
// view when it uses none.
func (t *Tenant) ListView() blocklist.View {
	if t == nil || t.all {
		return nil
	}
	if t.View == nil {
		return blocklist.View{}
	}
	return t.View
}

// SinkholeFor is the sinkhole addresses a rule with payload p of table tab
// answers for t: t's own block page when its override made the list's
// action sinkhole, else the rule's (RPZ local data) or its list's. The
// policy and explain both answer with it; t may be nil (the default).
func (t *Tenant) SinkholeFor(tab *blocklist.Table, p blocklist.Payload) []netip.Addr {
	if t != nil && int(p.List) < len(t.actions) && t.actions[p.List] == uint8(blocklist.ActionSinkhole)+1 {
		return t.Sinkhole
	}
	return tab.SinkholeAddrs(p)
}

// IsDefault reports whether t is the default policy.
func (t *Tenant) IsDefault() bool { return t.Name == "" }

// Action is the action list i takes for this tenant: the override, or def
// (the rule's own); t may be nil (the default policy).
func (t *Tenant) Action(i uint16, def blocklist.Action) blocklist.Action {
	if t != nil && int(i) < len(t.actions) && t.actions[i] != 0 {
		return blocklist.Action(t.actions[i] - 1)
	}
	return def
}

// Query is what selection looks at.
type Query struct {
	// Client is the real client (after PROXY).
	Client netip.Addr
	// ID is from the DoH path or the TLS server name; "" for none.
	ID string
	// ECS is the query's EDNS Client Subnet; invalid for none.
	ECS netip.Prefix
}

// Selector maps queries to tenants. It is immutable once built, so any
// number of goroutines may use it; a reload builds a new one.
type Selector struct {
	tenants []*Tenant
	def     *Tenant
	byID    map[string]*Tenant
	byNet   map[netip.Prefix]*Tenant
	// lens4 and lens6 are the prefix lengths in use, longest first: a
	// lookup masks the address once per length present, so it costs a
	// few map probes however many networks there are.
	lens4, lens6 []int
	ecs          []netip.Prefix
}

// New compiles the tenants (validated against lists) and the ECS policy.
// lists are the configured lists in index order.
func New(ts []Config, ecs ECSConfig, lists []ListRef) (*Selector, error) {
	if errs := Validate("tenants", ts, lists); len(errs) > 0 {
		return nil, errs[0]
	}
	if errs := ecs.Validate("tenant_ecs"); len(errs) > 0 {
		return nil, errs[0]
	}
	index := map[string]int{}
	for i, l := range lists {
		index[l.Name] = i
	}
	// Allow lists a tenant names are that tenant's exceptions: they do not
	// leak to the default policy or to tenants that leave allowlists
	// unset. Block lists all apply by default: more protection is the
	// safe side.
	claimed := map[string]bool{}
	for _, t := range ts {
		for _, n := range t.Allowlists {
			claimed[n] = true
		}
	}
	s := &Selector{byID: map[string]*Tenant{}, byNet: map[netip.Prefix]*Tenant{}}
	s.def = &Tenant{View: newView(len(lists))}
	for i, l := range lists {
		if !l.Allow || !claimed[l.Name] {
			set(s.def.View, i)
		}
	}
	s.def.all = full(s.def.View, len(lists))
	for _, c := range ts {
		t := &Tenant{Name: c.Name, View: newView(len(lists)), LogClient: c.Log.Client, Index: len(s.tenants) + 1}
		for i, l := range lists {
			switch {
			case !l.Allow && c.Blocklists == nil, l.Allow && c.Allowlists == nil && !claimed[l.Name]:
				set(t.View, i)
			}
		}
		for _, n := range c.Blocklists {
			set(t.View, index[n])
		}
		for _, n := range c.Allowlists {
			set(t.View, index[n])
		}
		if len(c.Actions) > 0 {
			t.actions = make([]uint8, len(lists))
			for n, act := range c.Actions {
				a, _ := blocklist.ParseAction(act)
				t.actions[index[n]] = uint8(a) + 1
			}
		}
		t.all = full(t.View, len(lists))
		for _, a := range c.Sinkhole {
			t.Sinkhole = append(t.Sinkhole, netip.MustParseAddr(a))
		}
		s.tenants = append(s.tenants, t)
		for _, id := range c.IDs {
			s.byID[id] = t
		}
		for _, n := range c.Clients {
			p, _ := netprefix.Parse(n)
			s.byNet[p] = t
			if p.Addr().Is4() {
				s.lens4 = append(s.lens4, p.Bits())
			} else {
				s.lens6 = append(s.lens6, p.Bits())
			}
		}
	}
	for _, l := range []*[]int{&s.lens4, &s.lens6} {
		slices.Sort(*l)
		slices.Reverse(*l)
		*l = slices.Compact(*l)
	}
	for _, n := range ecs.Trusted {
		p, _ := netprefix.Parse(n)
		s.ecs = append(s.ecs, p)
	}
	return s, nil
}

// Default is the policy of clients that match no tenant.
func (s *Selector) Default() *Tenant { return s.def }

// Tenants returns the configured tenants in config order, e.g. to label
// metrics: the label set is bounded by the config.
func (s *Selector) Tenants() []*Tenant { return s.tenants }

// ByName returns the tenant named name, for explain -tenant.
func (s *Selector) ByName(name string) (*Tenant, bool) {
	for _, t := range s.tenants {
		if t.Name == name {
			return t, true
		}
	}
	return nil, false
}

// ByID returns the tenant with id (case-insensitive).
func (s *Selector) ByID(id string) (*Tenant, bool) {
	t, ok := s.byID[id]
	if !ok && hasUpper(id) {
		t, ok = s.byID[strings.ToLower(id)]
	}
	return t, ok
}

// ByAddr returns the tenant whose most specific client network holds a.
func (s *Selector) ByAddr(a netip.Addr) (*Tenant, bool) { return s.byAddr(a, 128) }

// byAddr is ByAddr among networks of at most maxBits bits.
func (s *Selector) byAddr(a netip.Addr, maxBits int) (*Tenant, bool) {
	a = a.Unmap()
	lens := s.lens6
	if a.Is4() {
		lens = s.lens4
	}
	for _, n := range lens {
		if n > maxBits {
			continue
		}
		p, err := a.Prefix(n)
		if err != nil {
			continue
		}
		if t, ok := s.byNet[p]; ok {
			return t, true
		}
	}
	return nil, false
}

// Select returns the tenant q is answered for: an id that names a tenant
// beats everything; then the ECS subnet, if a trusted forwarder sent it
// and a tenant network holds the whole subnet; then the client address;
// else the default.
func (s *Selector) Select(q Query) *Tenant {
	if q.ID != "" {
		if t, ok := s.ByID(q.ID); ok {
			return t
		}
	}
	if q.ECS.IsValid() && q.ECS.Bits() > 0 && s.TrustedForwarder(q.Client) {
		if t, ok := s.byAddr(q.ECS.Masked().Addr(), q.ECS.Bits()); ok {
			return t
		}
	}
	if t, ok := s.ByAddr(q.Client); ok {
		return t
	}
	return s.def
}

// TrustedForwarder reports whether a query from a may select its tenant
// by ECS (tenant_ecs.trusted).
func (s *Selector) TrustedForwarder(a netip.Addr) bool {
	a = a.Unmap()
	return slices.ContainsFunc(s.ecs, func(p netip.Prefix) bool { return p.Contains(a) })
}

// DoHPath is the RFC 8484 endpoint; /dns-query/<id> selects a tenant.
const DoHPath = "/dns-query"

// DoHPathID splits a DoH request path: "/dns-query" is ("", true),
// "/dns-query/council-a" is ("council-a", true); any other path is not a
// DoH endpoint (false). The id is not checked against the tenants: an
// unknown id falls back to the client address, as a mistyped id must not
// leave a client unprotected.
func DoHPathID(path string) (string, bool) {
	if path == DoHPath {
		return "", true
	}
	rest, ok := strings.CutPrefix(path, DoHPath+"/")
	if !ok || rest == "" || strings.Contains(rest, "/") {
		return "", false
	}
	return strings.ToLower(rest), true
}

// SNIID returns the id in a TLS server name "<id>.<server name>" for one
// of serverNames, or "" when sni is not of that form.
func SNIID(sni string, serverNames []string) string {
	sni = strings.ToLower(strings.TrimSuffix(sni, "."))
	for _, n := range serverNames {
		n = strings.ToLower(strings.TrimSuffix(n, "."))
		if id, ok := strings.CutSuffix(sni, "."+n); ok && id != "" && !strings.Contains(id, ".") {
			return id
		}
	}
	return ""
}

// ClientSubnet returns the EDNS Client Subnet option of m (RFC 7871), if
// it has a well-formed one.
func ClientSubnet(m *dns.Msg) (netip.Prefix, bool) {
	opt := m.IsEdns0()
	if opt == nil {
		return netip.Prefix{}, false
	}
	for _, o := range opt.Option {
		sub, ok := o.(*dns.EDNS0_SUBNET)
		if !ok {
			continue
		}
		a, ok := netip.AddrFromSlice(sub.Address)
		if !ok {
			return netip.Prefix{}, false
		}
		if sub.Family == 1 {
			a = a.Unmap()
		}
		p, err := a.Prefix(int(sub.SourceNetmask))
		// The family must match the address (RFC 7871 §6); a v4-mapped
		// address under family 2 is a confused sender, not a subnet.
		if err != nil || (sub.Family == 1) != a.Is4() || a.Is4In6() {
			return netip.Prefix{}, false
		}
		return p, true
	}
	return netip.Prefix{}, false
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// String describes t for explain output.
func (t *Tenant) String() string {
	if t.IsDefault() {
		return "default policy"
	}
	return fmt.Sprintf("tenant %q", t.Name)
}

// newView returns an empty view with room for n lists.
func newView(n int) blocklist.View { return make(blocklist.View, (n+63)/64) }

// full reports whether v holds each of n lists.
func full(v blocklist.View, n int) bool {
	for i := range n {
		if !v.Has(uint16(i)) {
			return false
		}
	}
	return true
}

// set adds list i to v, which has room for it.
func set(v blocklist.View, i int) { v[i>>6] |= 1 << (i & 63) }
