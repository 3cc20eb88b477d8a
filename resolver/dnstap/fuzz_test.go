package dnstap

import (
	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/resolver/dnswire"
	contract "github.com/bulwark-dns/bulwark/resolver/query"

	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	dnstappb "github.com/dnstap/golang-dnstap"
	"google.golang.org/protobuf/proto"
)

// FuzzParseSocket: any socket string is either rejected with a message or
// gives something net.Dial accepts.
func FuzzParseSocket(f *testing.F) {
	for _, s := range []string{"unix:/run/dnstap.sock", "tcp:127.0.0.1:6000", "tcp:[::1]:6000", "tcp:[fe80::1%eth0]:6000", "unix:", "tcp:", ":", "udp:1.2.3.4:5", "unix:rel"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		network, addr, err := parseSocket(s)
		if err != nil {
			if !strings.Contains(err.Error(), "unix") && !strings.Contains(err.Error(), "tcp") {
				t.Fatalf("error %q does not say what is accepted", err)
			}
			return
		}
		switch network {
		case "unix":
			if !strings.HasPrefix(addr, "/") || len(addr) > 107 {
				t.Fatalf("unix path %q", addr)
			}
		case "tcp":
			if ap, err := netip.ParseAddrPort(addr); err != nil || ap.Port() == 0 {
				t.Fatalf("tcp address %q: %v", addr, err)
			}
		default:
			t.Fatalf("network %q", network)
		}
	})
}

// FuzzEncoder: whatever bytes a client sent (junk included, since dnstap
// logs the packet as received), the frames decode back to the same bytes,
// client and transport; a rule's decision (any names, offsets, actions)
// becomes a Policy that reads back with the matched name, and the tenant
// comes back in extra.
func FuzzEncoder(f *testing.F) {
	f.Add([]byte{0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}, []byte{0, 1, 0x81, 0x80}, []byte{192, 0, 2, 1}, uint16(53), uint8(0), true, int64(1700000000123456789), int64(1500), "", "", "", uint8(0), uint8(0))
	f.Add([]byte{}, []byte(nil), []byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, uint16(0), uint8(3), false, int64(0), int64(0), "", "", "", uint8(0), uint8(0))
	f.Add([]byte{0, 1}, []byte{0, 1, 0x81, 0x83}, []byte{192, 0, 2, 1}, uint16(53), uint8(1), true, int64(1), int64(1), "Login.Evil.Example.", "", "council-a", uint8(6), uint8(3))
	f.Add([]byte{0, 1}, []byte(nil), []byte{192, 0, 2, 1}, uint16(53), uint8(0), true, int64(1), int64(1), "shop.example.", "c.tracker.example", "", uint8(200), uint8(5))
	f.Fuzz(func(t *testing.T, query, response, addr []byte, port uint16, p uint8, queries bool, nanos, dur int64,
		qname, cname, tenant string, offset, action uint8) {
		a, _ := netip.AddrFromSlice(addr)
		it := item{
			received: time.Unix(0, nanos), duration: time.Duration(dur),
			client: netip.AddrPortFrom(a, port), proto: contract.Proto(p % 4),
			answered: response != nil,
		}
		b := append(append([]byte(nil), query...), response...)
		it.buf, it.qlen = &b, len(query)
		it.tenant = tenant
		if qname != "" {
			it.qname = qname
			it.decision = contract.Decision{Table: &blocklist.Table{Lists: []blocklist.ListInfo{{Name: "l"}}}, CNAME: cname,
				Match: blocklist.Match{Offset: int(offset), Payload: blocklist.Payload{Action: blocklist.Action(action)}}}
		}
		tap := &Tap{queries: queries, responses: true}
		var e encoder
		e.init([]byte("id"), []byte("v"))
		frames := e.frames(tap, &it)
		want := 0
		if queries {
			want++
		}
		if it.answered {
			want++
		}
		if len(frames) != want {
			t.Fatalf("%d frames, want %d", len(frames), want)
		}
		for _, fr := range frames {
			var dt dnstappb.Dnstap
			if err := proto.Unmarshal(fr, &dt); err != nil {
				t.Fatalf("frame does not decode: %v", err)
			}
			m := dt.GetMessage()
			if string(dt.GetExtra()) != map[bool]string{true: "tenant=" + tenant, false: ""}[tenant != ""] {
				t.Fatalf("extra %q for tenant %q", dt.GetExtra(), tenant)
			}
			pol := policyOf(t, m)
			wantValue := dnswire.Canonical(qname)
			if cname != "" {
				wantValue = cname
			}
			if pol.present != (qname != "") || pol.present && (pol.value != wantValue || pol.typ != "l" || pol.match != matchQName) {
				t.Fatalf("policy %+v for qname %q cname %q", pol, qname, cname)
			}
			switch m.GetType() {
			case dnstappb.Message_CLIENT_QUERY:
				if !bytes.Equal(m.GetQueryMessage(), query) {
					t.Fatalf("query message %x, want %x", m.GetQueryMessage(), query)
				}
			case dnstappb.Message_CLIENT_RESPONSE:
				if !bytes.Equal(m.GetResponseMessage(), response) {
					t.Fatalf("response message %x, want %x", m.GetResponseMessage(), response)
				}
			default:
				t.Fatalf("type %v", m.GetType())
			}
			if a.IsValid() {
				got, _ := netip.AddrFromSlice(m.GetQueryAddress())
				if got != a.Unmap() && got != a || m.GetQueryPort() != uint32(port) {
					t.Fatalf("address %v:%d, want %v:%d", got, m.GetQueryPort(), a, port)
				}
			} else if m.QueryAddress != nil || m.SocketFamily != nil {
				t.Fatal("address fields without an address")
			}
			if m.GetSocketProtocol() != socketProtocols[it.proto] {
				t.Fatalf("protocol %v for %v", m.GetSocketProtocol(), it.proto)
			}
		}
	})
}
