package dnstap

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	dnstappb "github.com/dnstap/golang-dnstap"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/dnstaptest"
	"github.com/bulwark-dns/bulwark/resolver/privacy"
	contract "github.com/bulwark-dns/bulwark/resolver/query"
)

// policy is a decoded dnstap Policy message.
type policy struct {
	present          bool
	typ, rule, value string
	action, match    uint64
}

// policyOf reads Message.policy (field 15) out of m's unknown fields, as
// a reader built from the current dnstap.proto would.
func policyOf(t *testing.T, m *dnstappb.Message) policy {
	t.Helper()
	var p policy
	b := []byte(m.ProtoReflect().GetUnknown())
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("unknown fields: %v", protowire.ParseError(n))
		}
		b = b[n:]
		if num != fieldMessagePolicy || typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			b = b[n:]
			continue
		}
		inner, n := protowire.ConsumeBytes(b)
		if n < 0 {
			t.Fatal("policy: bad length")
		}
		b = b[n:]
		p.present = true
		for len(inner) > 0 {
			num, typ, n := protowire.ConsumeTag(inner)
			if n < 0 {
				t.Fatal("policy: bad tag")
			}
			inner = inner[n:]
			switch typ {
			case protowire.VarintType:
				v, n := protowire.ConsumeVarint(inner)
				inner = inner[n:]
				if num == 3 {
					p.action = v
				} else if num == 4 {
					p.match = v
				}
			case protowire.BytesType:
				v, n := protowire.ConsumeBytes(inner)
				inner = inner[n:]
				switch num {
				case 1:
					p.typ = string(v)
				case 2:
					p.rule = string(v)
				case 5:
					p.value = string(v)
				}
			default:
				t.Fatalf("policy field %d of wire type %d", num, typ)
			}
		}
	}
	return p
}

// TestTapPolicy: a query a rule answered carries a Policy message (list,
// rule, action, match QNAME, the matched name) in both its frames, and
// the tenant in Dnstap.extra; an upstream NXDOMAIN carries none. The
// tenant's own client mode applies to query_address.
func TestTapPolicy(t *testing.T) {
	col := dnstaptest.New(t, "unix").Start()
	tap, _ := startTap(t, Config{Socket: col.Socket()})
	set, err := privacy.NewSet(privacy.Config{Client: "full"}, map[string]string{"council-a": "truncate", "school-b": "omit"})
	if err != nil {
		t.Fatal(err)
	}
	tap.SetClients(set)
	table := &blocklist.Table{Lists: []blocklist.ListInfo{{Name: "phishing"}, {Name: "trackers"}}}
	below := func(a blocklist.Action, list uint16, offset int) blocklist.Match {
		return blocklist.Match{Scope: blocklist.Below, Offset: offset, Payload: blocklist.Payload{Action: a, List: list}}
	}
	tests := []struct {
		name     string
		decision contract.Decision
		tenant   string
		want     policy
		addr     string // query_address; "" none
	}{
		{"login.evil.example.", contract.Decision{Table: table, Match: below(blocklist.ActionNXDomain, 0, 6)}, "",
			policy{true, "phishing", "*.evil.example", "login.evil.example", actionNXDomain, matchQName}, "192.0.2.7"},
		{"a.evil.example.", contract.Decision{Table: table, Match: below(blocklist.ActionNoData, 0, 2)}, "council-a",
			policy{true, "phishing", "*.evil.example", "a.evil.example", actionNoData, matchQName}, "192.0.2.0"},
		{"b.evil.example.", contract.Decision{Table: table, Match: below(blocklist.ActionSinkhole, 0, 2)}, "school-b",
			policy{true, "phishing", "*.evil.example", "b.evil.example", actionLocalData, matchQName}, ""},
		{"c.evil.example.", contract.Decision{Table: table, Match: below(blocklist.ActionNull, 0, 2)}, "",
			policy{true, "phishing", "*.evil.example", "c.evil.example", actionLocalData, matchQName}, "192.0.2.7"},
		{"d.evil.example.", contract.Decision{Table: table, Match: below(blocklist.ActionRefused, 0, 2)}, "",
			policy{true, "phishing", "*.evil.example", "d.evil.example", 0, matchQName}, "192.0.2.7"},
		// CNAME cloaking: the listed name is the CNAME target.
		{"shop.example.", contract.Decision{Table: table, CNAME: "c.tracker.example", Match: blocklist.Match{Offset: 2, Payload: blocklist.Payload{List: 1}}}, "",
			policy{true, "trackers", "tracker.example", "c.tracker.example", actionNXDomain, matchQName}, "192.0.2.7"},
		// RPZ triggers beyond the name: the match type, and the network's
		// address as the value (never the client's own address).
		{"cip.example.", contract.Decision{Table: table, Trigger: blocklist.TriggerClientIP, Prefix: netip.MustParsePrefix("192.0.2.0/24"),
			Match: blocklist.Match{Scope: blocklist.Exact, Payload: blocklist.Payload{Action: blocklist.ActionNXDomain}}}, "",
			policy{true, "phishing", "192.0.2.0/24", "\xc0\x00\x02\x00", actionNXDomain, matchClientIP}, "192.0.2.7"},
		{"rip.example.", contract.Decision{Table: table, Trigger: blocklist.TriggerIP, Prefix: netip.MustParsePrefix("2001:db8::/32"),
			Match: blocklist.Match{Scope: blocklist.Exact, Payload: blocklist.Payload{Action: blocklist.ActionLocal}}}, "",
			policy{true, "phishing", "2001:db8::/32", string(netip.MustParseAddr("2001:db8::").AsSlice()), actionLocalData, matchResponseIP}, "192.0.2.7"},
		{"tcp.evil.example.", contract.Decision{Table: table, Match: below(blocklist.ActionTCPOnly, 0, 4)}, "",
			policy{true, "phishing", "*.evil.example", "tcp.evil.example", actionTruncate, matchQName}, "192.0.2.7"},
		{"upstream-nx.example.", contract.Decision{}, "", policy{}, "192.0.2.7"},
	}
	for _, tt := range tests {
		ev := event(t, tt.name, "192.0.2.7:5353", contract.ProtoUDP, true)
		ev.Decision, ev.Tenant = tt.decision, tt.tenant
		tap.Observe(ev)
	}
	// A drop has no response frame: the query frame carries the policy.
	drop := event(t, "gone.evil.example.", "192.0.2.7:5353", contract.ProtoUDP, false)
	drop.Decision = contract.Decision{Table: table, Match: below(blocklist.ActionDrop, 0, 5)}
	tap.Observe(drop)

	for _, tt := range tests {
		for _, f := range []*dnstappb.Dnstap{col.Next(t), col.Next(t)} {
			m := f.GetMessage()
			if got := policyOf(t, m); got != tt.want {
				t.Errorf("%s %v: policy %+v, want %+v", tt.name, m.GetType(), got, tt.want)
			}
			wantExtra := ""
			if tt.tenant != "" {
				wantExtra = "tenant=" + tt.tenant
			}
			if string(f.GetExtra()) != wantExtra {
				t.Errorf("%s: extra %q, want %q", tt.name, f.GetExtra(), wantExtra)
			}
			var addr string
			if a := m.GetQueryAddress(); a != nil {
				addr = net.IP(a).String()
			}
			if addr != tt.addr {
				t.Errorf("%s (tenant %q): query_address %q, want %q", tt.name, tt.tenant, addr, tt.addr)
			}
		}
	}
	f := col.Next(t)
	if got, want := policyOf(t, f.GetMessage()), (policy{true, "phishing", "*.evil.example", "gone.evil.example", actionDrop, matchQName}); f.GetMessage().GetType() != dnstappb.Message_CLIENT_QUERY || got != want {
		t.Errorf("drop: %v policy %+v, want CLIENT_QUERY with %+v", f.GetMessage().GetType(), got, want)
	}
}

// TestDnstapReadPolicy: BIND's dnstap-read parses frames that carry a
// Policy and the tenant; BIND 9.18 does not print Policy (its dnstap.proto
// predates it) and skips it as a reader must.
func TestDnstapReadPolicy(t *testing.T) {
	bin := needDnstapRead(t)
	col := dnstaptest.New(t, "unix").Start()
	tap, _ := startTap(t, Config{Socket: col.Socket(), Identity: "bulwark-test"})
	table := &blocklist.Table{Lists: []blocklist.ListInfo{{Name: "phishing"}}}
	for i, a := range []blocklist.Action{blocklist.ActionNXDomain, blocklist.ActionSinkhole} {
		ev := event(t, fmt.Sprintf("p%d.evil.example.", i), "192.0.2.44:5353", contract.ProtoUDP, true)
		ev.Decision = contract.Decision{Table: table, Match: blocklist.Match{Scope: blocklist.Below, Offset: 3, Payload: blocklist.Payload{Action: a}}}
		ev.Tenant = "council-a"
		tap.Observe(ev)
	}
	text := dnstapRead(t, bin, col, 4)
	for _, want := range []string{"p0.evil.example", "p1.evil.example", "type: CLIENT_RESPONSE", `query_address: "192.0.2.44"`} {
		if !strings.Contains(text, want) {
			t.Errorf("dnstap-read output lacks %q:\n%s", want, text)
		}
	}
}
