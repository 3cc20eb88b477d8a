package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/bindtest"
	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/internal/wait"
)

// TestServeAXFRNotify runs serve with an RPZ feed transferred from a real
// BIND primary that sends NOTIFY to Bulwark's DNS port: an nsupdate on the
// primary is blocking within moments (the SOA refresh is an hour, so only
// the NOTIFY explains it), and the time from nsupdate to the first blocked
// answer is logged. NOTIFY refusals are checked on the same listener.
//
// BULWARK_XFR_RULES=1000000 runs it with a zone of that many rules, to
// measure the latency at a national feed's size (not in CI: named takes
// a while to load it).
func TestServeAXFRNotify(t *testing.T) { testServeAXFRNotify(t, bindtest.Start) }

// TestServeAXFRNotifyKnot is the same with Knot DNS (knotd) as the
// primary, sending NOTIFY after the update.
func TestServeAXFRNotifyKnot(t *testing.T) { testServeAXFRNotify(t, bindtest.StartKnot) }

func testServeAXFRNotify(t *testing.T, startPrimary func(*testing.T, bindtest.Options) *bindtest.Primary) {
	up := dnstest.Start(t, dnstest.WithWildcard())
	h := newE2EHost(t)
	port, admin := h.port, h.admin
	records := "bad.example CNAME .\n"
	rules := 1
	if n, err := strconv.Atoi(os.Getenv("BULWARK_XFR_RULES")); err == nil && n > 1 {
		var sb strings.Builder
		sb.WriteString(records)
		for i := 1; i < n; i++ {
			fmt.Fprintf(&sb, "r%d.bulk%d.example CNAME .\n", i, i%997)
		}
		records, rules = sb.String(), n
	}
	b := startPrimary(t, bindtest.Options{Notify: port, Records: records})
	dir := writeFiles(t, map[string]string{"bulwark.yaml": h.config(up.Addr, fmt.Sprintf(`feeds:
  cache_dir: cache
blocklists:
  - name: rpz
    source: "axfr://%s/rpz.test"
    tsig: {name: %s, algorithm: hmac-sha256, secret: "%s"}
`, b.Addr(), bindtest.KeyName, bindtest.KeySecret))})
	p := serveInProcess(t, filepath.Join(dir, "bulwark.yaml"))
	for deadline := time.Now().Add(20*time.Second + time.Duration(rules)*200*time.Microsecond); ; time.Sleep(20 * time.Millisecond) {
		if code, _ := readyz(admin); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not ready in time")
		}
	}
	if rcode(t, port, "bad.example") != dns.RcodeNameError || rcode(t, port, "new.example") != dns.RcodeSuccess {
		t.Fatal("the transferred zone is not applied")
	}

	published := strings.Count(p.stderr.String(), `msg="blocklist published"`)
	start := time.Now()
	b.Update("update add new.example.rpz.test. 60 CNAME .")
	wait.For(t, "the NOTIFY-triggered IXFR to block new.example", func() bool { return rcode(t, port, "new.example") == dns.RcodeNameError })
	t.Logf("nsupdate to first blocked answer: %s (zone of %d rules)", time.Since(start).Round(time.Millisecond), rules+1)
	// The block is seen as soon as the IXFR's overlay is published, before
	// the rest is recorded: the transfer is counted when the IXFR returns
	// (feeds.xfrSource.confirmed), and "NOTIFY accepted" is logged after
	// the check was started. Reading the count at once failed under load
	// ("IXFR count = -1", the series not there yet): wait for both.
	wait.For(t, `the "NOTIFY accepted" log line`, func() bool { return strings.Contains(p.stderr.String(), "NOTIFY accepted") })
	if n := scrape(t, admin, `bulwark_feed_notify_total{feed="rpz",result="accepted"}`); n < 1 {
		t.Errorf("accepted NOTIFY count = %v", n)
	}
	const ixfrs = `bulwark_feed_zone_transfers_total{feed="rpz",type="ixfr"}`
	wait.For(t, "the IXFR to be counted in "+ixfrs, func() bool { return scrape(t, admin, ixfrs) >= 1 })
	if n := scrape(t, admin, ixfrs); n != 1 {
		t.Errorf("IXFR count = %v, want 1\n%s\nprimary:\n%s", n, p.stderr.String(), b.Log())
	}

	// Address triggers by IXFR, served at once through the overlay: an
	// rpz-ip rule for the upstream's answer address blocks every name; an
	// rpz-client-ip rule for the test client too; deleted, names resolve.
	for i, tr := range []struct{ trigger, owner string }{
		{"rpz-ip", "32.53.2.0.192.rpz-ip"}, // dnstest.WildcardA
		{"rpz-client-ip", "32.1.0.0.127.rpz-client-ip"},
	} {
		blocked, freed := fmt.Sprintf("%s-%d.example", tr.trigger, i), fmt.Sprintf("%s-%d-after.example", tr.trigger, i)
		if rcode(t, port, blocked) != dns.RcodeSuccess {
			t.Fatalf("%s: blocked before the update", blocked)
		}
		// The previous change's full rebuild is done first: an IXFR waits
		// for the rebuild in progress (docs/ARCHITECTURE.md).
		wait.For(t, "the previous rebuild", func() bool { return strings.Count(p.stderr.String(), `msg="blocklist published"`) > published })
		published = strings.Count(p.stderr.String(), `msg="blocklist published"`)
		start := time.Now()
		b.Update(fmt.Sprintf("update add %s.rpz.test. 60 CNAME .", tr.owner))
		wait.For(t, "the IXFR to add the "+tr.trigger+" rule", func() bool { return rcode(t, port, blocked) == dns.RcodeNameError })
		t.Logf("nsupdate to first %s block: %s (zone of %d rules)", tr.trigger, time.Since(start).Round(time.Millisecond), rules+1)
		wait.For(t, "the rebuild", func() bool { return strings.Count(p.stderr.String(), `msg="blocklist published"`) > published })
		published = strings.Count(p.stderr.String(), `msg="blocklist published"`)
		start = time.Now()
		b.Update(fmt.Sprintf("update delete %s.rpz.test. CNAME", tr.owner))
		wait.For(t, "the IXFR to delete the "+tr.trigger+" rule", func() bool { return rcode(t, port, freed) == dns.RcodeSuccess })
		t.Logf("nsupdate to first answer after deleting the %s rule: %s", tr.trigger, time.Since(start).Round(time.Millisecond))
	}

	// NOTIFY as other senders would send it, on the same UDP listener.
	notify := func(zone, local string, secret string) *dns.Msg {
		t.Helper()
		m := new(dns.Msg)
		m.SetNotify(dns.Fqdn(zone))
		c := &dns.Client{Timeout: 5 * time.Second, Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(local)}}}
		if secret != "" {
			m.SetTsig(bindtest.KeyName+".", dns.HmacSHA256, 300, time.Now().Unix())
			c.TsigSecret = map[string]string{bindtest.KeyName + ".": secret}
		}
		r, _, err := c.Exchange(m, fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil && !(secret == bindtest.WrongSecret && r != nil) {
			t.Fatalf("NOTIFY %s from %s: %v", zone, local, err)
		}
		return r
	}
	tests := []struct {
		name, zone, from, secret string
		rcode                    int
	}{
		{"signed from the primary", "rpz.test", "127.0.0.1", bindtest.KeySecret, dns.RcodeSuccess},
		{"unsigned", "rpz.test", "127.0.0.1", "", dns.RcodeNotAuth},
		{"wrong key", "rpz.test", "127.0.0.1", bindtest.WrongSecret, dns.RcodeNotAuth},
		{"not a primary", "rpz.test", "127.0.0.2", bindtest.KeySecret, dns.RcodeRefused},
		{"unknown zone", "other.test", "127.0.0.1", "", dns.RcodeRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := notify(tt.zone, tt.from, tt.secret)
			if r.Rcode != tt.rcode || r.Opcode != dns.OpcodeNotify || !r.Authoritative ||
				len(r.Question) != 1 || r.Question[0].Name != dns.Fqdn(tt.zone) || r.Question[0].Qtype != dns.TypeSOA {
				t.Errorf("answer: rcode %s opcode %d aa %v question %v; want rcode %s, opcode NOTIFY, AA, the question echoed",
					dns.RcodeToString[r.Rcode], r.Opcode, r.Authoritative, r.Question, dns.RcodeToString[tt.rcode])
			}
			// RFC 8945 §5.3: a request whose signature verified gets a
			// signed answer, whatever it says; the others an unsigned one.
			if signed := r.IsTsig() != nil; signed != (tt.secret == bindtest.KeySecret) {
				t.Errorf("answer signed = %v; want signed exactly when the NOTIFY's signature verified", signed)
			}
		})
	}
}
