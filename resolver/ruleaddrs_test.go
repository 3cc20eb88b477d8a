package resolver_test

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// TestRuleAddressesWin: a sinkhole rule with its own addresses (RPZ local
// data, Payload.Data) answers them; one without answers its list's.
func TestRuleAddressesWin(t *testing.T) {
	b := blocklist.NewBuilder()
	own := blocklist.Payload{List: 0, Action: blocklist.ActionSinkhole, Data: 1}
	listDefault := blocklist.Payload{List: 0, Action: blocklist.ActionSinkhole}
	for _, r := range []blocklist.Rule{
		{Name: "own.test", Scope: blocklist.Exact, Payload: own},
		{Name: "list.test", Scope: blocklist.Exact, Payload: listDefault},
	} {
		if err := b.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	set, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	tab := &blocklist.Table{
		Set:        set,
		Lists:      []blocklist.ListInfo{{Name: "rpz", Action: blocklist.ActionSinkhole, Sinkhole: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}},
		Categories: []string{"rpz"},
		Addrs:      [][]netip.Addr{{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("2001:db8::53")}},
	}
	e := startEnv(t, tab, envOpts{})
	tests := []struct {
		name  string
		qtype uint16
		want  string // "" for NODATA
	}{
		{"own.test", dns.TypeA, "192.0.2.53"},
		{"own.test", dns.TypeAAAA, "2001:db8::53"},
		{"list.test", dns.TypeA, "192.0.2.1"},
		{"list.test", dns.TypeAAAA, ""},
	}
	for _, tt := range tests {
		resp := e.query(t, "udp", tt.name, tt.qtype, false)
		switch {
		case tt.want == "" && len(resp.Answer) != 0:
			t.Errorf("%s %s: answers %v, want NODATA", tt.name, dns.TypeToString[tt.qtype], resp.Answer)
		case tt.want != "" && (len(resp.Answer) != 1 || addrOf(resp.Answer[0]) != netip.MustParseAddr(tt.want)):
			t.Errorf("%s %s: answers %v, want %s", tt.name, dns.TypeToString[tt.qtype], resp.Answer, tt.want)
		}
	}
}
