package feeds

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
)

// The tests of zone transfer feeds run real primaries: BIND 9's named
// (Debian bind9, installed by the Makefile's deps target) serving an RPZ
// zone with TSIG, dynamic updates (nsupdate, bind9-utils) and an IXFR
// journal, on a free loopback port in the test's own directory.

// testKeySecret is a 32-byte hmac key, as tsig-keygen makes.
const (
	testKeyName   = "rpz-key"
	testKeySecret = "n8cpbB5+gbuRjSDUPbKt7LvPY3f1W3ZmzAx5prGzjbA="
	wrongSecret   = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="
)

// bindPrimary is one running named.
type bindPrimary struct {
	t      *testing.T
	dir    string
	port   int
	zone   string
	cmd    *exec.Cmd
	stderr *logBuffer
	done   chan struct{}
}

// bindOpts shape the primary.
type bindOpts struct {
	zone    string // default rpz.test.
	records string // the zone's records after the SOA, relative to the zone
	// notify, if non-zero, is the port NOTIFY messages go to (also-notify).
	notify int
	// soa timers: refresh retry expire; default "3600 600 86400".
	timers string
	serial uint32
}

// startBIND starts named serving opts' zone, signed transfers and updates
// with testKeyName. It skips the test if named is not installed (the
// Makefile's deps target installs it: bind9).
func startBIND(t *testing.T, o bindOpts) *bindPrimary {
	t.Helper()
	named, err := exec.LookPath("named")
	if err != nil {
		if _, err = os.Stat("/usr/sbin/named"); err != nil {
			t.Skip("named not installed: apt-get install bind9 (make deps does)")
		}
		named = "/usr/sbin/named"
	}
	if o.zone == "" {
		o.zone = "rpz.test."
	}
	if o.timers == "" {
		o.timers = "3600 600 86400"
	}
	if o.serial == 0 {
		o.serial = 1
	}
	dir := t.TempDir()
	b := &bindPrimary{t: t, dir: dir, port: dnstest.FreePort(t), zone: o.zone, stderr: &logBuffer{}, done: make(chan struct{})}
	zoneFile := filepath.Join(dir, "rpz.db")
	zoneText := fmt.Sprintf("$TTL 60\n@ SOA ns.%s hostmaster.%s %d %s 60\n@ NS ns.%s\nns A 127.0.0.1\n%s\n",
		o.zone, o.zone, o.serial, o.timers, o.zone, o.records)
	if err := os.WriteFile(zoneFile, []byte(zoneText), 0o644); err != nil {
		t.Fatal(err)
	}
	notify := "notify no;"
	if o.notify != 0 {
		notify = fmt.Sprintf("notify explicit; also-notify { 127.0.0.1 port %d; };", o.notify)
	}
	conf := fmt.Sprintf(`options {
	directory "%[1]s";
	pid-file "%[1]s/named.pid";
	session-keyfile "%[1]s/session.key";
	managed-keys-directory "%[1]s";
	listen-on port %[2]d { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
	notify-delay 0;
	startup-notify-rate 1000;
	notify-rate 1000;
};
controls { };
key "%[3]s" { algorithm hmac-sha256; secret "%[4]s"; };
zone "%[5]s" {
	type primary;
	file "%[6]s";
	allow-update { key "%[3]s"; };
	allow-transfer { key "%[3]s"; };
	ixfr-from-differences yes;
	%[7]s
};
`, dir, b.port, testKeyName, testKeySecret, strings.TrimSuffix(o.zone, "."), zoneFile, notify)
	confFile := filepath.Join(dir, "named.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	b.cmd = exec.Command(named, "-g", "-c", confFile, "-n", "1")
	b.cmd.Stdout, b.cmd.Stderr = b.stderr, b.stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = b.cmd.Wait(); close(b.done) }()
	t.Cleanup(b.stop)
	// Ready once it answers the zone's SOA.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := b.serial(); err == nil {
			return b
		}
		select {
		case <-b.done:
			t.Fatalf("named exited:\n%s", b.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("named did not answer within 30s:\n%s", b.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// addr is the primary's address.
func (b *bindPrimary) addr() netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(b.port))
}

// stop kills named (idempotent).
func (b *bindPrimary) stop() {
	if b.cmd.Process == nil {
		return
	}
	select {
	case <-b.done:
		return
	default:
	}
	_ = b.cmd.Process.Kill()
	<-b.done
}

// serial asks the primary for the zone's serial.
func (b *bindPrimary) serial() (uint32, error) {
	m := new(dns.Msg)
	m.SetQuestion(b.zone, dns.TypeSOA)
	c := &dns.Client{Timeout: time.Second}
	r, _, err := c.Exchange(m, b.addr().String())
	if err != nil {
		return 0, err
	}
	for _, rr := range r.Answer {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa.Serial, nil
		}
	}
	return 0, fmt.Errorf("no SOA (rcode %s)", dns.RcodeToString[r.Rcode])
}

// update runs nsupdate with lines ("update add x.rpz.test. 60 CNAME .")
// signed with the test key; the zone's serial goes up by one.
func (b *bindPrimary) update(lines ...string) {
	b.t.Helper()
	in := fmt.Sprintf("server 127.0.0.1 %d\nzone %s\n%s\nsend\n", b.port, b.zone, strings.Join(lines, "\n"))
	cmd := exec.Command("nsupdate", "-y", "hmac-sha256:"+testKeyName+":"+testKeySecret)
	cmd.Stdin = strings.NewReader(in)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.t.Fatalf("nsupdate: %v\n%s\nnamed:\n%s", err, out, b.stderr.String())
	}
}

// tsigConfig is the test key as a list's tsig: key.
func tsigConfig(secret string) *TSIGConfig {
	return &TSIGConfig{Name: testKeyName, Algorithm: "hmac-sha256", Secret: secret}
}
