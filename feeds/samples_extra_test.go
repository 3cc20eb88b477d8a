package feeds

import (
	"github.com/miekg/dns"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/testfile"
)

// TestSampleAdblock checks the adblock sample against its answer files:
// the blocked names, the @@ exceptions, and every IGNORE (skipped) and
// INVALID (rejected) line.
func TestSampleAdblock(t *testing.T) {
	p := parseFile(t, ParseAdblock, "samples/phishing.adblock.txt")
	var blocked, allowed []string
	for _, e := range p.entries {
		if e.Scope != blocklist.Subtree || e.HasAction {
			t.Errorf("entry %+v: want a plain subtree rule", e)
		}
		if e.Allow {
			allowed = append(allowed, e.Name)
		} else {
			blocked = append(blocked, e.Name)
		}
	}
	check := func(what string, got []string, file string) {
		got = slices.Compact(slices.Sorted(slices.Values(got)))
		want := readLines(t, dataFile(t, file))
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %d, want %d; missing %q; extra %q", what, len(got), len(want), diff(want, got), diff(got, want))
		}
	}
	check("blocked", blocked, "samples/phishing.adblock.expected.txt")
	check("exceptions", allowed, "samples/phishing.adblock.exceptions.txt")

	lines := strings.Split(string(testfile.Read(t, dataFile(t, "samples/phishing.adblock.txt"))), "\n")
	byLine := map[int]LineError{}
	for _, r := range p.rejects {
		byLine[r.Line] = r
	}
	var ignore, invalid int
	for _, row := range readLines(t, dataFile(t, "samples/phishing.adblock.skipped.tsv")) {
		kind, text, _ := strings.Cut(row, "\t")
		n := slices.IndexFunc(lines, func(l string) bool { return strings.TrimSpace(l) == text })
		if n < 0 {
			t.Errorf("%q not found in the sample", text)
			continue
		}
		r, ok := byLine[n+1]
		switch {
		case !ok:
			t.Errorf("line %d %q (%s): neither skipped nor rejected", n+1, text, kind)
		case kind == "IGNORE" && !r.Skipped, kind == "INVALID" && r.Skipped:
			t.Errorf("line %d %q: %s, but got %+v", n+1, text, kind, r)
		default:
			t.Logf("line %d %-50q %s: %s", n+1, text, kind, r.Reason)
		}
		if kind == "IGNORE" {
			ignore++
		} else {
			invalid++
		}
	}
	var skipped, rejected int
	for _, r := range p.rejects {
		if r.Skipped {
			skipped++
		} else {
			rejected++
		}
	}
	if skipped != ignore || rejected != invalid {
		t.Errorf("%d skipped, %d rejected; the answer file has %d and %d", skipped, rejected, ignore, invalid)
	}
}

// rpzWant is one row of phishing.rpz.expected.tsv.
type rpzWant struct{ trigger, action string }

// TestSampleRPZ checks the RPZ sample against its answer file, row by row:
// name triggers become rules with the mapped action and scope, and every
// IP and name-server trigger row is a rule of its kind.
func TestSampleRPZ(t *testing.T) {
	p := parseFile(t, ParseRPZ, "samples/phishing.rpz.zone")
	got := map[string]Entry{}
	triggers := map[string]int{}
	for _, e := range p.entries {
		if e.Trigger != blocklist.TriggerQName {
			triggers[e.Trigger.String()+" trigger"]++
			continue
		}
		key := e.Name
		if e.Scope == blocklist.Below {
			key = "*." + key
		} else if e.Scope != blocklist.Exact {
			t.Errorf("entry %+v: RPZ scopes are exact or below", e)
		}
		if _, dup := got[key]; dup {
			t.Errorf("trigger %q emitted twice", key)
		}
		got[key] = e
	}
	skips := map[string]int{}
	var rejects []LineError
	for _, r := range p.rejects {
		if r.Skipped {
			skips[r.Reason]++
		} else {
			rejects = append(rejects, r)
		}
	}
	var wants []rpzWant
	for _, row := range readLines(t, dataFile(t, "samples/phishing.rpz.expected.tsv")) {
		if strings.HasPrefix(row, "#") {
			continue
		}
		trig, action, _ := strings.Cut(row, "\t")
		wants = append(wants, rpzWant{trig, action})
	}
	sink := []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("2001:db8::53")}
	wantTriggers := map[string]int{}
	matched := 0
	for _, w := range wants {
		if kind, _, ok := strings.Cut(w.trigger, ":"); ok && strings.HasPrefix(kind, "rpz-") {
			wantTriggers[kind+" trigger"]++
			continue
		}
		e, ok := got[w.trigger]
		if !ok {
			t.Errorf("%s (%s): no rule", w.trigger, w.action)
			continue
		}
		matched++
		ok = true
		switch w.action {
		case "NXDOMAIN":
			ok = !e.Allow && e.HasAction && e.Action == blocklist.ActionNXDomain
		case "NODATA":
			ok = !e.Allow && e.HasAction && e.Action == blocklist.ActionNoData
		case "DROP":
			ok = !e.Allow && e.HasAction && e.Action == blocklist.ActionDrop
		case "PASSTHRU":
			ok = e.Allow
		case "TCP-ONLY":
			ok = !e.Allow && e.HasAction && e.Action == blocklist.ActionTCPOnly
		case "LOCAL-DATA A=192.0.2.53 AAAA=2001:db8::53":
			ok = !e.Allow && e.HasAction && e.Action == blocklist.ActionSinkhole && slices.Equal(e.Addrs, sink)
		case "LOCAL-DATA CNAME=walled-garden.phish.example.":
			ok = !e.Allow && e.Action == blocklist.ActionLocal && len(e.Local) == 1 &&
				e.Local[0] == blocklist.LocalRR{Type: dns.TypeCNAME, Data: "walled-garden.phish.example."}
		case `LOCAL-DATA TXT="blocked by policy"`:
			ok = !e.Allow && e.Action == blocklist.ActionLocal && len(e.Local) == 1 && e.Local[0].Type == dns.TypeTXT
		default:
			t.Errorf("%s: unknown expected action %q", w.trigger, w.action)
		}
		if !ok {
			t.Errorf("%s: want %s, got %+v", w.trigger, w.action, e)
		}
	}
	if matched != len(got) {
		t.Errorf("%d rules, %d expected", len(got), matched)
	}
	for k, v := range wantTriggers {
		if triggers[k] != v {
			t.Errorf("%q rules = %d, want %d (all: %v)", k, triggers[k], v, triggers)
		}
	}
	if len(skips) != 0 || p.stats.Approximated != 0 {
		t.Errorf("skipped %v, approximated %d: every RPZ record is now answered as written", skips, p.stats.Approximated)
	}
	// The two malformed records: out of zone, and an empty label.
	var reasons []string
	for _, r := range rejects {
		reasons = append(reasons, r.Reason+": "+r.Text)
	}
	if want := []string{ReasonRPZOutOfZone + ": outside.example.com. CNAME .", ReasonEmptyLabel + ": bad..name"}; !slices.Equal(reasons, want) {
		t.Errorf("rejects = %q, want %q", reasons, want)
	}
}
