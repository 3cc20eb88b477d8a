package feeds

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/bindtest"
)

// The zone of TestXfrTriggersOverlay before its updates.
const triggerZoneRecords = `bad.example CNAME .
32.1.2.0.192.rpz-ip CNAME .
ns.evil.example.rpz-nsdname CNAME .
`

// A later RPZ zone and a plain list, after the transferred zone.
const laterZone = `$ORIGIN later.rpz.
@ SOA ns. admin. 1 2 3 4 5
x.later.example CNAME .
8.0.0.0.10.rpz-ip CNAME .
32.7.0.0.127.rpz-client-ip CNAME .
16.0.0.53.198.rpz-nsip CNAME .
ns.later.example.rpz-nsdname CNAME .
`

// TestXfrTriggersOverlay: an IXFR that adds and removes rpz-ip,
// rpz-client-ip, rpz-nsdname and rpz-nsip rules (and passthrus, names)
// is served at once, before the rebuild, with every trigger table and
// the feed-trust decision exactly as the rebuilt table has them. A
// passthru added by IXFR lifts a later zone's block, never a plain
// list's.
func TestXfrTriggersOverlay(t *testing.T) {
	b := bindtest.Start(t, bindtest.Options{Records: triggerZoneRecords})
	dir := t.TempDir()
	later, plain := writeFile(t, dir, "later.rpz", laterZone), writeFile(t, dir, "plain.txt", "plain.example\n")
	var mu sync.Mutex
	var published []*blocklist.Table
	e := newXfrManager(t, b, t.TempDir(), func(lc *ListConfig, o *Options) {
		o.Blocklists = append(o.Blocklists, ListConfig{Name: "later", Source: "file:" + later},
			ListConfig{Name: "plain", Source: "file:" + plain})
		o.OnPublish = func(t *blocklist.Table) { mu.Lock(); published = append(published, t); mu.Unlock() }
	})
	ctx := context.Background()
	if err := e.m.Start(ctx); err != nil {
		t.Fatalf("start: %v\n%s", err, e.logs)
	}
	// refresh runs an IXFR after updates and returns the overlay table
	// published before the rebuild, and the rebuilt one.
	refresh := func(updates ...string) (overlay, final *blocklist.Table) {
		t.Helper()
		mu.Lock()
		n := len(published)
		mu.Unlock()
		b.Update(updates...)
		if err := e.m.RefreshNow(ctx); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, p := range published[n:] {
			if p.Set.OverlayLen() > 0 {
				overlay = p
				break
			}
		}
		final = published[len(published)-1]
		if overlay == nil || final.Set.OverlayLen() != 0 {
			t.Fatalf("no overlay table before the rebuild (%d tables published)\n%s", len(published)-n, e.logs)
		}
		return overlay, final
	}
	names := []string{"bad.example", "x.bad.example", "x.later.example", "plain.example", "new.example", "none.example"}
	addrs := []string{"192.0.2.1", "192.0.2.9", "192.0.2.77", "10.0.0.5", "10.1.1.1", "127.0.0.7", "127.0.0.99",
		"198.53.0.1", "192.0.53.53", "2001:db8::1"}
	hosts := []string{"ns.evil.example", "ns.bad.example", "a.ns2.example", "ns2.example", "ns.later.example", "ns.good.example"}

	overlay, final := refresh(
		"update add new.example.rpz.test. 60 CNAME .",
		"update add x.later.example.rpz.test. 60 CNAME rpz-passthru.", // lifts the later zone's block
		"update add plain.example.rpz.test. 60 CNAME rpz-passthru.",   // does not lift the plain list's
		"update delete 32.1.2.0.192.rpz-ip.rpz.test. CNAME",
		"update add 32.9.2.0.192.rpz-ip.rpz.test. 60 A 192.0.2.250", // sinkhole with local data
		"update add 32.5.0.0.10.rpz-ip.rpz.test. 60 CNAME rpz-passthru.",
		"update add 32.99.0.0.127.rpz-client-ip.rpz.test. 60 CNAME rpz-drop.",
		"update add 32.7.0.0.127.rpz-client-ip.rpz.test. 60 CNAME rpz-passthru.",
		"update add ns.bad.example.rpz-nsdname.rpz.test. 60 CNAME .",
		"update add *.ns2.example.rpz-nsdname.rpz.test. 60 CNAME *.",
		"update add ns.later.example.rpz-nsdname.rpz.test. 60 CNAME rpz-passthru.",
		"update add 32.53.53.0.192.rpz-nsip.rpz.test. 60 CNAME .",
	)
	compareTables(t, overlay, final, names, addrs, hosts)
	checkOverlay(t, "after the IXFR", []overlayWant{
		{"qname new.example", decided(overlay, "new.example"), "block:nxdomain by rpz"},
		{"qname x.later.example", decided(overlay, "x.later.example"), "allow by rpz"},
		{"qname plain.example", decided(overlay, "plain.example"), "block:nxdomain by plain"},
		{"rpz-ip 192.0.2.1", netDecided(overlay, overlay.IP, "192.0.2.1"), "none"},
		{"rpz-ip 192.0.2.9", netDecided(overlay, overlay.IP, "192.0.2.9"), "block:sinkhole [192.0.2.250] by rpz"},
		{"rpz-ip 10.0.0.5", netDecided(overlay, overlay.IP, "10.0.0.5"), "allow by rpz"},
		{"rpz-ip 10.1.1.1", netDecided(overlay, overlay.IP, "10.1.1.1"), "block:nxdomain by later"},
		{"rpz-client-ip 127.0.0.99", netDecided(overlay, overlay.ClientIP, "127.0.0.99"), "block:drop by rpz"},
		{"rpz-client-ip 127.0.0.7", netDecided(overlay, overlay.ClientIP, "127.0.0.7"), "allow by rpz"},
		{"rpz-nsip 192.0.53.53", netDecided(overlay, overlay.NSIP, "192.0.53.53"), "block:nxdomain by rpz"},
		{"rpz-nsdname ns.bad.example", nsDecided(overlay, "ns.bad.example"), "block:nxdomain by rpz"},
		{"rpz-nsdname a.ns2.example", nsDecided(overlay, "a.ns2.example"), "block:nodata by rpz"},
		{"rpz-nsdname ns.later.example", nsDecided(overlay, "ns.later.example"), "allow by rpz"},
	})

	// Deleted again: the overlay lifts them at once.
	overlay, final = refresh(
		"update delete new.example.rpz.test. CNAME",
		"update delete 32.9.2.0.192.rpz-ip.rpz.test. A",
		"update delete 32.99.0.0.127.rpz-client-ip.rpz.test. CNAME",
		"update delete ns.bad.example.rpz-nsdname.rpz.test. CNAME",
		"update delete 32.53.53.0.192.rpz-nsip.rpz.test. CNAME",
	)
	compareTables(t, overlay, final, names, addrs, hosts)
	checkOverlay(t, "after the deleting IXFR", []overlayWant{
		{"qname new.example", decided(overlay, "new.example"), "none"},
		{"rpz-ip 192.0.2.9", netDecided(overlay, overlay.IP, "192.0.2.9"), "none"},
		{"rpz-client-ip 127.0.0.99", netDecided(overlay, overlay.ClientIP, "127.0.0.99"), "none"},
		{"rpz-nsip 192.0.53.53", netDecided(overlay, overlay.NSIP, "192.0.53.53"), "none"},
		{"rpz-nsdname ns.bad.example", nsDecided(overlay, "ns.bad.example"), "none"},
		{"rpz-nsdname ns.evil.example", nsDecided(overlay, "ns.evil.example"), "block:nxdomain by rpz"},
	})
}

// TestXfrLogOnlyOverlay: an IXFR of a log-only zone goes to the log-only
// sets (Table.WhatIf, WhatIfIP), never to the enforced ones.
func TestXfrLogOnlyOverlay(t *testing.T) {
	b := bindtest.Start(t, bindtest.Options{Records: triggerZoneRecords})
	var mu sync.Mutex
	var published []*blocklist.Table
	e := newXfrManager(t, b, t.TempDir(), func(lc *ListConfig, o *Options) {
		lc.LogOnly = true
		o.OnPublish = func(t *blocklist.Table) { mu.Lock(); published = append(published, t); mu.Unlock() }
	})
	ctx := context.Background()
	if err := e.m.Start(ctx); err != nil {
		t.Fatalf("start: %v\n%s", err, e.logs)
	}
	mu.Lock()
	n := len(published)
	mu.Unlock()
	b.Update("update add new.example.rpz.test. 60 CNAME .", "update add 32.9.2.0.192.rpz-ip.rpz.test. 60 CNAME .")
	if err := e.m.RefreshNow(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(published) < n+2 {
		t.Fatalf("%d tables published, want the overlay and the rebuild", len(published)-n)
	}
	for i, tab := range published[n:] {
		if m, ok := tab.Set.Match("new.example"); ok {
			t.Errorf("table %d: a log-only zone's name is enforced: %+v", i, m)
		}
		if m, ok := tab.IP.Match(netip.MustParseAddr("192.0.2.9"), blocklist.NoList); ok {
			t.Errorf("table %d: a log-only zone's rpz-ip rule is enforced: %+v", i, m)
		}
		if _, ok := tab.WhatIf.Match("new.example"); !ok {
			t.Errorf("table %d: the log-only zone's new name is not tried", i)
		}
		if _, ok := tab.WhatIfIP.Match(netip.MustParseAddr("192.0.2.9"), blocklist.NoList); !ok {
			t.Errorf("table %d: the log-only zone's new rpz-ip rule is not tried", i)
		}
	}
}

// compareTables checks that the overlay table decides every name, address
// and server name as the rebuilt one does.
func compareTables(t *testing.T, overlay, final *blocklist.Table, names, addrs, hosts []string) {
	t.Helper()
	for _, q := range names {
		if o, f := decided(overlay, q), decided(final, q); o != f {
			t.Errorf("name %s: overlay %s, rebuilt %s", q, o, f)
		}
	}
	sets := map[string]func(*blocklist.Table) *blocklist.NetSet{
		"rpz-ip":        func(t *blocklist.Table) *blocklist.NetSet { return t.IP },
		"rpz-client-ip": func(t *blocklist.Table) *blocklist.NetSet { return t.ClientIP },
		"rpz-nsip":      func(t *blocklist.Table) *blocklist.NetSet { return t.NSIP },
	}
	for kind, set := range sets {
		for _, a := range addrs {
			if o, f := netDecided(overlay, set(overlay), a), netDecided(final, set(final), a); o != f {
				t.Errorf("%s %s: overlay %s, rebuilt %s", kind, a, o, f)
			}
		}
	}
	for _, h := range hosts {
		if o, f := nsDecided(overlay, h), nsDecided(final, h); o != f {
			t.Errorf("rpz-nsdname %s: overlay %s, rebuilt %s", h, o, f)
		}
	}
}

// decided is the table's feed-trust decision on a name (Table.Decide).
func decided(t *blocklist.Table, q string) string {
	m, ok := t.Decide(q)
	return describeDecision(t, ok, m.Allow, m.Payload)
}

func netDecided(t *blocklist.Table, s *blocklist.NetSet, a string) string {
	m, ok := s.Match(netip.MustParseAddr(a), blocklist.NoList)
	return describeDecision(t, ok, m.Allow, m.Payload)
}

func nsDecided(t *blocklist.Table, h string) string {
	m, ok := t.NSDName.Match(h)
	return describeDecision(t, ok, m.Allow, m.Payload)
}

func describeDecision(t *blocklist.Table, ok, allow bool, p blocklist.Payload) string {
	switch {
	case !ok:
		return "none"
	case allow:
		return "allow by " + t.Lists[p.List].Name
	}
	s := "block:" + p.Action.String()
	if p.Action == blocklist.ActionSinkhole {
		s += fmt.Sprint(" ", t.SinkholeAddrs(p))
	}
	return s + " by " + t.Lists[p.List].Name
}

// overlayWant is what the overlay table says of one name, address or
// server (got), and what it must say.
type overlayWant struct{ what, got, want string }

func checkOverlay(t *testing.T, stage string, ws []overlayWant) {
	t.Helper()
	for _, w := range ws {
		if w.got != w.want {
			t.Errorf("%s, before the rebuild: %s: %s, want %s", stage, w.what, w.got, w.want)
		}
	}
}

// naiveZoneLines is zoneLines line by line, the reference.
func naiveZoneLines(body []byte, d *deltaChange, suffix []byte) (string, bool) {
	var sub strings.Builder
	n := 0
	for i, l := range strings.SplitAfter(string(body), "\n") {
		owner, _, tab := strings.Cut(l, "\t")
		switch {
		case i == 0 || tab && d.owners[owner]: // a record line: owner, tab
		case d.triggers() && specialOwner([]byte(owner), suffix):
			if n++; n > maxOverlayTriggers {
				return "", false
			}
		default:
			continue
		}
		sub.WriteString(l)
		if l != "" && !strings.HasSuffix(l, "\n") {
			sub.WriteString("\n")
		}
	}
	return sub.String(), true
}

// sortedLines is a text's lines in order, for comparing line sets.
func sortedLines(s string) []string {
	ls := strings.SplitAfter(s, "\n")
	slices.Sort(ls)
	return ls
}

// FuzzZoneLines holds zoneLines (the IXFR overlay's reader of the zone
// text) to the line-by-line reference, for few owners and many.
func FuzzZoneLines(f *testing.F) {
	f.Add([]byte("rpz.test.\t0\tIN\tSOA\tx\n"+
		"bad.example.rpz.test.\t0\tIN\tCNAME\t.\n*.bad.example.rpz.test.\t0\tIN\tCNAME\t.\n"+
		"32.1.2.0.192.rpz-ip.rpz.test.\t0\tIN\tCNAME\t.\nx.rpz-ip.example.rpz.test.\t0\tIN\tCNAME\t.\n"+
		"ns.a.rpz-nsdname.rpz.test.\t0\tIN\tCNAME\t.\nbad.example.rpz.test.\t0\tIN\tA\t192.0.2.1"), "bad.example", true)
	f.Add([]byte("\n\n.rpz-ip.rpz.test.\t\n"), "", false)
	f.Fuzz(func(t *testing.T, body []byte, name string, triggers bool) {
		suffix := []byte(".rpz.test.")
		for _, many := range []bool{false, true} {
			d := &deltaChange{owners: map[string]bool{}}
			d.kinds[blocklist.TriggerIP] = triggers
			d.owners[name+".rpz.test."], d.owners["*."+name+".rpz.test."] = true, true
			if many {
				for i := range 20 {
					d.owners[fmt.Sprintf("n%d.rpz.test.", i)] = true
				}
			}
			var sub bytes.Buffer
			ok := zoneLines(&sub, body, d, suffix)
			want, wok := naiveZoneLines(body, d, suffix)
			if ok != wok || ok && !slices.Equal(sortedLines(sub.String()), sortedLines(want)) {
				t.Fatalf("many owners %v: zoneLines = %q %v, line by line %q %v", many, sub.String(), ok, want, wok)
			}
		}
	})
}
