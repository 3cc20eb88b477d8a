package tenant

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"gopkg.in/yaml.v3"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// lists is a configured set in index order: block lists, then allow lists.
var lists = []ListRef{
	{Name: "phishing"}, {Name: "malware"}, {Name: "ads", Sinkhole: true},
	{Name: "global-exceptions", Allow: true}, {Name: "council-a-exceptions", Allow: true}, {Name: "isp-b-exceptions", Allow: true},
}

func index(name string) uint16 {
	for i, l := range lists {
		if l.Name == name {
			return uint16(i)
		}
	}
	panic(name)
}

// The section exactly as the issue documents it, plus a second tenant.
const example = `
- name: council-a
  clients: ["198.51.100.0/24", "2001:db8:a::/48"]
  ids: ["council-a"]
  blocklists: [phishing, malware]
  allowlists: [council-a-exceptions]
  actions: {phishing: sinkhole}
  sinkhole: ["192.0.2.80"]
  log: {client: truncate}
- name: isp-b
  clients: ["198.51.0.0/16", "198.51.100.128/25"]
  ids: ["isp-b", "isp-b-kids"]
  blocklists: []
  allowlists: [isp-b-exceptions, global-exceptions]
- name: school
  ids: ["school"]
`

func decode(t *testing.T, text string) []Config {
	t.Helper()
	var ts []Config
	dec := yaml.NewDecoder(strings.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(&ts); err != nil {
		t.Fatal(err)
	}
	return ts
}

func mustSelector(t *testing.T, text string, ecs ECSConfig) *Selector {
	t.Helper()
	s, err := New(decode(t, text), ecs, lists)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestViews: which lists each tenant sees, and the actions.
func TestViews(t *testing.T) {
	s := mustSelector(t, example, ECSConfig{})
	a, _ := s.ByName("council-a")
	b, _ := s.ByName("isp-b")
	school, _ := s.ByName("school")
	cases := []struct {
		t    *Tenant
		want []string
	}{
		{a, []string{"phishing", "malware", "council-a-exceptions"}},
		// blocklists: [] is none; the two allow lists named.
		{b, []string{"isp-b-exceptions", "global-exceptions"}},
		// Unset: every block list, and the allow lists no tenant claims.
		{school, []string{"phishing", "malware", "ads"}},
		{s.Default(), []string{"phishing", "malware", "ads"}},
	}
	for _, tc := range cases {
		for _, l := range lists {
			want := strings.Contains(" "+strings.Join(tc.want, " ")+" ", " "+l.Name+" ")
			if got := tc.t.View.Has(index(l.Name)); got != want {
				t.Errorf("%s: view has %s = %v, want %v", tc.t, l.Name, got, want)
			}
		}
	}
	if got := a.Action(index("phishing"), blocklist.ActionNXDomain); got != blocklist.ActionSinkhole {
		t.Errorf("council-a phishing action = %v, want sinkhole", got)
	}
	if got := a.Action(index("malware"), blocklist.ActionNoData); got != blocklist.ActionNoData {
		t.Errorf("council-a malware action = %v, want the rule's own", got)
	}
	if got := s.Default().Action(index("phishing"), blocklist.ActionRefused); got != blocklist.ActionRefused {
		t.Errorf("default phishing action = %v, want the rule's own", got)
	}
	if a.LogClient != LogTruncate || b.LogClient != "" {
		t.Errorf("log client = %q, %q", a.LogClient, b.LogClient)
	}
	if len(a.Sinkhole) != 1 || a.Sinkhole[0] != netip.MustParseAddr("192.0.2.80") {
		t.Errorf("council-a sinkhole = %v", a.Sinkhole)
	}
	if blocklist.View(nil).Has(3) || newView(70).Has(200) {
		t.Error("an index past the view is in it")
	}
}

// TestSelect is the selection contract on the example.
func TestSelect(t *testing.T) {
	s := mustSelector(t, example, ECSConfig{Trusted: []string{"192.0.2.53"}})
	fwd := netip.MustParseAddr("192.0.2.53")
	cases := []struct {
		name string
		q    Query
		want string // "" is the default
	}{
		{"network", Query{Client: netip.MustParseAddr("198.51.100.7")}, "council-a"},
		{"IPv6 network", Query{Client: netip.MustParseAddr("2001:db8:a:1::9")}, "council-a"},
		{"v4-mapped client", Query{Client: netip.MustParseAddr("::ffff:198.51.100.7")}, "council-a"},
		{"most specific wins (/25 in a /24)", Query{Client: netip.MustParseAddr("198.51.100.200")}, "isp-b"},
		{"wider network", Query{Client: netip.MustParseAddr("198.51.7.7")}, "isp-b"},
		{"unmatched", Query{Client: netip.MustParseAddr("203.0.113.1")}, ""},
		{"id beats network", Query{Client: netip.MustParseAddr("198.51.100.7"), ID: "school"}, "school"},
		{"second id", Query{Client: netip.MustParseAddr("203.0.113.1"), ID: "isp-b-kids"}, "isp-b"},
		{"id case", Query{Client: netip.MustParseAddr("203.0.113.1"), ID: "Council-A"}, "council-a"},
		{"unknown id falls back to network", Query{Client: netip.MustParseAddr("198.51.100.7"), ID: "nobody"}, "council-a"},
		{"ECS from trusted forwarder", Query{Client: fwd, ECS: netip.MustParsePrefix("198.51.100.0/24")}, "council-a"},
		{"ECS narrower than the network", Query{Client: fwd, ECS: netip.MustParsePrefix("198.51.100.192/26")}, "isp-b"},
		{"ECS wider than any network", Query{Client: fwd, ECS: netip.MustParsePrefix("198.0.0.0/8")}, ""},
		{"ECS /16 matches only the /16", Query{Client: fwd, ECS: netip.MustParsePrefix("198.51.0.0/16")}, "isp-b"},
		{"ECS /0 is no subnet", Query{Client: netip.MustParseAddr("198.51.100.7"), ECS: netip.MustParsePrefix("0.0.0.0/0")}, "council-a"},
		{"ECS from untrusted client ignored", Query{Client: netip.MustParseAddr("203.0.113.1"), ECS: netip.MustParsePrefix("198.51.100.0/24")}, ""},
		{"id beats ECS", Query{Client: fwd, ECS: netip.MustParsePrefix("198.51.100.0/24"), ID: "school"}, "school"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.Select(tc.q).Name; got != tc.want {
				t.Errorf("Select(%+v) = %q, want %q", tc.q, got, tc.want)
			}
		})
	}
}

// refSelect is the naive reference: scan every tenant's every network.
func refSelect(ts []Config, ecs []netip.Prefix, q Query) string {
	if q.ID != "" {
		for _, t := range ts {
			for _, id := range t.IDs {
				if strings.EqualFold(id, q.ID) {
					return t.Name
				}
			}
		}
	}
	longest := func(a netip.Addr, maxBits int) (string, bool) {
		best, bits := "", -1
		for _, t := range ts {
			for _, c := range t.Clients {
				p := netip.MustParsePrefix(c)
				if p.Bits() <= maxBits && p.Bits() > bits && p.Contains(a.Unmap()) {
					best, bits = t.Name, p.Bits()
				}
			}
		}
		return best, bits >= 0
	}
	trusted := false
	for _, p := range ecs {
		trusted = trusted || p.Contains(q.Client.Unmap())
	}
	if q.ECS.IsValid() && q.ECS.Bits() > 0 && trusted {
		if n, ok := longest(q.ECS.Masked().Addr(), q.ECS.Bits()); ok {
			return n
		}
	}
	n, _ := longest(q.Client, 128)
	return n
}

// TestSelectMatchesReference checks the indexed selection against the
// naive scan on random tenants and queries, nested networks included.
func TestSelectMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randAddr := func(v6 bool) netip.Addr {
		if v6 {
			var b [16]byte
			b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
			for i := 4; i < 8; i++ {
				b[i] = byte(rng.IntN(4)) // few distinct values: nesting happens
			}
			return netip.AddrFrom16(b)
		}
		return netip.AddrFrom4([4]byte{10, byte(rng.IntN(4)), byte(rng.IntN(4)), byte(rng.IntN(256))})
	}
	for round := range 50 {
		var ts []Config
		seen := map[netip.Prefix]bool{}
		var ecs []netip.Prefix
		for i := range 1 + rng.IntN(30) {
			c := Config{Name: fmt.Sprintf("t%d", i)}
			for range rng.IntN(4) {
				v6 := rng.IntN(2) == 0
				bits := 8 + rng.IntN(25)
				if v6 {
					bits = 32 + rng.IntN(40)
				}
				p, _ := randAddr(v6).Prefix(bits)
				if !seen[p] {
					seen[p] = true
					c.Clients = append(c.Clients, p.String())
				}
			}
			if rng.IntN(3) == 0 || len(c.Clients) == 0 {
				c.IDs = []string{fmt.Sprintf("id%d", i)}
			}
			ts = append(ts, c)
		}
		ecsCfg := ECSConfig{}
		if round%2 == 0 {
			ecsCfg.Trusted = []string{"10.3.0.0/16"}
			ecs = []netip.Prefix{netip.MustParsePrefix("10.3.0.0/16")}
		}
		s, err := New(ts, ecsCfg, lists)
		if err != nil {
			t.Fatal(err)
		}
		for range 500 {
			q := Query{Client: randAddr(rng.IntN(2) == 0)}
			if rng.IntN(5) == 0 {
				q.ID = fmt.Sprintf("id%d", rng.IntN(40))
			}
			if rng.IntN(3) == 0 {
				v6 := rng.IntN(2) == 0
				bits := rng.IntN(33)
				if v6 {
					bits = rng.IntN(80)
				}
				q.ECS, _ = randAddr(v6).Prefix(bits)
			}
			got, want := s.Select(q).Name, refSelect(ts, ecs, q)
			if got != want {
				t.Fatalf("round %d: Select(%+v) = %q, reference %q; tenants %+v", round, q, got, want, ts)
			}
		}
	}
}

// TestValidate: every mistake, with the path the root loader turns into a
// line.
func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string
	}{
		{"example is valid", example, nil},
		{"no name", `[{clients: ["10.0.0.0/8"]}]`, []string{`tenants[0].name: must not be empty`}},
		{"bad name", `[{name: "a b", clients: ["10.0.0.0/8"]}]`, []string{`tenants[0].name: "a b" may hold only`}},
		{"duplicate name", `[{name: a, ids: [x]}, {name: a, ids: [y]}]`, []string{`tenants[1].name: duplicate tenant name "a" (first used at tenants[0].name)`}},
		{"matches nothing", `[{name: a}]`, []string{`tenants[0]: tenant "a" matches no query`}},
		{"bad prefix", `[{name: a, clients: ["10.0.0.0/33", "nope"]}]`, []string{
			`tenants[0].clients[0]: "10.0.0.0/33" is not a CIDR network`, `tenants[0].clients[1]: "nope" is not a CIDR network`}},
		{"duplicate network across tenants", `[{name: a, clients: ["10.0.0.0/8"]}, {name: b, clients: ["10.1.2.3/8"]}]`, []string{
			`tenants[1].clients[0]: network 10.0.0.0/8 is already a client network at tenants[0].clients[0]`}},
		{"duplicate id", `[{name: a, ids: [x]}, {name: b, ids: [x]}]`, []string{`tenants[1].ids[0]: duplicate id "x" (first used at tenants[0].ids[0])`}},
		{"bad id", `[{name: a, ids: ["Council.A", "-x", ""]}]`, []string{`tenants[0].ids[0]: id "Council.A" must be one DNS label`, `tenants[0].ids[1]`, `tenants[0].ids[2]`}},
		{"unknown list", `[{name: a, ids: [x], blocklists: [phishing, nosuch], allowlists: [nope]}]`, []string{
			`tenants[0].blocklists[1]: unknown list "nosuch"`, `tenants[0].allowlists[0]: unknown list "nope"`}},
		{"wrong kind of list", `[{name: a, ids: [x], blocklists: [global-exceptions], allowlists: [malware]}]`, []string{
			`tenants[0].blocklists[0]: "global-exceptions" is an allow list; name it under allowlists`,
			`tenants[0].allowlists[0]: "malware" is a block list; name it under blocklists`}},
		{"list twice", `[{name: a, ids: [x], blocklists: [malware, malware]}]`, []string{`tenants[0].blocklists[1]: list "malware" is named twice`}},
		{"action for unknown list", `[{name: a, ids: [x], actions: {nosuch: drop}}]`, []string{`tenants[0].actions.nosuch: unknown list "nosuch"`}},
		{"action for allow list", `[{name: a, ids: [x], actions: {global-exceptions: drop}}]`, []string{`tenants[0].actions.global-exceptions: "global-exceptions" is an allow list`}},
		{"action for list outside the view", `[{name: a, ids: [x], blocklists: [malware], actions: {phishing: drop}}]`, []string{`tenants[0].actions.phishing: list "phishing" is not one of the tenant's blocklists`}},
		{"bad action", `[{name: a, ids: [x], actions: {phishing: block}}]`, []string{`tenants[0].actions.phishing: "block" is not one of nxdomain`}},
		{"sinkhole without addresses", `[{name: a, ids: [x], actions: {phishing: sinkhole}}]`, []string{`tenants[0].actions.phishing: sinkhole needs addresses`}},
		{"sinkhole from the list", `[{name: a, ids: [x], actions: {ads: sinkhole}}]`, nil},
		{"bad sinkhole", `[{name: a, ids: [x], sinkhole: ["192.0.2.300"]}]`, []string{`tenants[0].sinkhole: "192.0.2.300" is not an IP address`}},
		{"bad log mode", `[{name: a, ids: [x], log: {client: partial}}]`, []string{`tenants[0].log.client: "partial" is not one of full, truncate, hash, omit`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := Validate("tenants", decode(t, tc.yaml), lists)
			if len(errs) != len(tc.want) {
				t.Fatalf("errors = %v, want %d: %q", errs, len(tc.want), tc.want)
			}
			for i, e := range errs {
				if !strings.HasPrefix(e.Error(), tc.want[i]) {
					t.Errorf("error %d = %q, want it to start with %q", i, e, tc.want[i])
				}
			}
			if len(tc.want) > 0 {
				if _, err := New(decode(t, tc.yaml), ECSConfig{}, lists); err == nil {
					t.Error("New accepted an invalid section")
				}
			}
		})
	}
	if errs := (&ECSConfig{Trusted: []string{"10.0.0.0/8", "x"}}).Validate("tenant_ecs"); len(errs) != 1 ||
		errs[0].Error() != `tenant_ecs.trusted[1]: "x" is not a CIDR network or address` {
		t.Errorf("tenant_ecs errors = %v", errs)
	}
	// Unknown keys are refused by the strict decoder, as for every section.
	dec := yaml.NewDecoder(bytes.NewReader([]byte(`[{name: a, ids: [x], blocklist: [malware]}]`)))
	dec.KnownFields(true)
	var ts []Config
	if err := dec.Decode(&ts); err == nil || !strings.Contains(err.Error(), "line 1: field blocklist not found") {
		t.Errorf("misspelt key: %v", err)
	}
}

func TestDoHPathID(t *testing.T) {
	for _, tc := range []struct {
		path, id string
		ok       bool
	}{
		{"/dns-query", "", true},
		{"/dns-query/council-a", "council-a", true},
		{"/dns-query/Council-A", "council-a", true},
		{"/dns-query/", "", false},
		{"/dns-query/a/b", "", false},
		{"/dns-queryx", "", false},
		{"/", "", false},
	} {
		id, ok := DoHPathID(tc.path)
		if id != tc.id || ok != tc.ok {
			t.Errorf("DoHPathID(%q) = %q, %v; want %q, %v", tc.path, id, ok, tc.id, tc.ok)
		}
	}
}

func TestSNIID(t *testing.T) {
	names := []string{"dns.example.net", "resolver.example."}
	for _, tc := range []struct{ sni, id string }{
		{"council-a.dns.example.net", "council-a"},
		{"COUNCIL-A.DNS.example.net.", "council-a"},
		{"isp-b.resolver.example", "isp-b"},
		{"dns.example.net", ""},
		{"a.b.dns.example.net", ""},
		{"council-a.other.example", ""},
		{"xdns.example.net", ""},
		{"", ""},
	} {
		if got := SNIID(tc.sni, names); got != tc.id {
			t.Errorf("SNIID(%q) = %q, want %q", tc.sni, got, tc.id)
		}
	}
}

func TestClientSubnet(t *testing.T) {
	mk := func(family uint16, bits uint8, addr string) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion("example.org.", dns.TypeA)
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: family, SourceNetmask: bits, Address: net.ParseIP(addr)})
		return m
	}
	for _, tc := range []struct {
		m    *dns.Msg
		want string // "" for none
	}{
		{mk(1, 24, "198.51.100.0"), "198.51.100.0/24"},
		{mk(2, 48, "2001:db8:a::"), "2001:db8:a::/48"},
		{mk(1, 33, "198.51.100.0"), ""},
		{mk(2, 24, "198.51.100.0"), ""}, // family says IPv6, address is IPv4
		{new(dns.Msg), ""},
	} {
		p, ok := ClientSubnet(tc.m)
		if got := map[bool]string{true: p.String(), false: ""}[ok]; got != tc.want {
			t.Errorf("ClientSubnet = %q, want %q", got, tc.want)
		}
	}
}

// TestViewsOnASharedSet: the tenants' views decide over one merged set
// as each tenant's own lists would.
func TestViewsOnASharedSet(t *testing.T) {
	b := blocklist.NewBuilder()
	for _, r := range []struct {
		name, list string
	}{
		{"evil.example", "phishing"}, {"evil.example", "malware"}, {"malware.example", "malware"},
		{"ads.example", "ads"}, {"partner.evil.example", "council-a-exceptions"}, {"ads.example", "isp-b-exceptions"},
	} {
		i := index(r.list)
		if err := b.Add(blocklist.Rule{Name: r.name, Allow: lists[i].Allow, Payload: blocklist.Payload{List: i}}); err != nil {
			t.Fatal(err)
		}
	}
	set, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	s := mustSelector(t, example, ECSConfig{})
	a, _ := s.ByName("council-a")
	isp, _ := s.ByName("isp-b")
	cases := []struct {
		t       *Tenant
		q       string
		blocked bool
		list    string
	}{
		{a, "partner.evil.example", false, "council-a-exceptions"},
		{s.Default(), "partner.evil.example", true, "phishing"}, // council-a's exception does not leak
		{a, "www.ads.example", false, ""},                       // ads is not in council-a's view
		{s.Default(), "www.ads.example", true, "ads"},
		{isp, "evil.example", false, ""}, // blocklists: [] blocks nothing
		{isp, "ads.example", false, "isp-b-exceptions"},
		{a, "malware.example", true, "malware"},
	}
	for _, tc := range cases {
		m, ok := set.MatchView(tc.q, tc.t.View)
		blocked := ok && !m.Allow
		name := ""
		if ok {
			name = lists[m.Payload.List].Name
		}
		if blocked != tc.blocked || name != tc.list {
			t.Errorf("%s %s: blocked %v by %q, want %v by %q", tc.t, tc.q, blocked, name, tc.blocked, tc.list)
		}
	}
}
