// Package bindtest runs a real primary for tests — BIND 9's named (Start)
// or Knot DNS's knotd (StartKnot, knot.go) — serving a response policy
// zone with TSIG, dynamic updates (nsupdate) and an IXFR journal, on a
// free loopback port in the test's own directory, killed when the test
// ends. The Makefile's deps target installs bind9, bind9-utils and knot.
package bindtest

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
	"github.com/bulwark-dns/bulwark/internal/need"
	"github.com/bulwark-dns/bulwark/internal/syncbuf"
)

// KeyName and KeySecret are the hmac-sha256 key the primary requires for
// transfers and updates (32 bytes, as tsig-keygen makes); WrongSecret is
// another key of the same name.
const (
	KeyName     = "rpz-key"
	KeySecret   = "n8cpbB5+gbuRjSDUPbKt7LvPY3f1W3ZmzAx5prGzjbA="
	WrongSecret = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="
)

// Primary is one running named.
type Primary struct {
	t   *testing.T
	dir string
	// Port is where it listens on 127.0.0.1; Zone is its zone, absolute.
	Port   int
	Zone   string
	cmd    *exec.Cmd
	stderr *logBuf
	done   chan struct{}
}

// Options shape the primary.
type Options struct {
	Zone    string // default rpz.test.
	Records string // the zone's records after the SOA, relative to the zone
	// Notify, if non-zero, is the port NOTIFY messages go to (also-notify).
	Notify int
	// Timers are the SOA's refresh, retry and expire; default "3600 600 86400".
	Timers string
	Serial uint32
}

// Start starts named serving o's zone, signed transfers and updates
// with KeyName. It skips the test if named is not installed (the
// Makefile's deps target installs it: bind9).
func Start(t *testing.T, o Options) *Primary {
	t.Helper()
	named := need.Tool(t, "named", "bind9")
	b, zoneFile := newPrimary(t, o)
	dir := b.dir
	notify := "notify no;"
	if o.Notify != 0 {
		notify = fmt.Sprintf("notify explicit; also-notify { 127.0.0.1 port %d key \"%s\"; };", o.Notify, KeyName)
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
	max-ixfr-ratio unlimited;
	%[7]s
};
`, dir, b.Port, KeyName, KeySecret, strings.TrimSuffix(b.Zone, "."), zoneFile, notify)
	confFile := filepath.Join(dir, "named.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	b.run(exec.Command(named, "-g", "-c", confFile, "-n", "1"), len(o.Records), "named")
	return b
}

// run starts the primary's process and waits until it answers the zone's
// SOA (longer for larger zones, which load slowly).
func (b *Primary) run(cmd *exec.Cmd, records int, what string) {
	t := b.t
	t.Helper()
	b.cmd = cmd
	b.cmd.Stdout, b.cmd.Stderr = b.stderr, b.stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = b.cmd.Wait(); close(b.done) }()
	t.Cleanup(b.Stop)
	deadline := time.Now().Add(30*time.Second + time.Duration(records)*time.Microsecond)
	for {
		if _, err := b.Serial(); err == nil {
			return
		}
		select {
		case <-b.done:
			t.Fatalf("%s exited:\n%s", what, b.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer in time:\n%s", what, b.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// newPrimary fills in o's defaults and writes its zone file in a new
// directory, for either server.
func newPrimary(t *testing.T, o Options) (*Primary, string) {
	if o.Zone == "" {
		o.Zone = "rpz.test."
	}
	if o.Timers == "" {
		o.Timers = "3600 600 86400"
	}
	if o.Serial == 0 {
		o.Serial = 1
	}
	dir := t.TempDir()
	b := &Primary{t: t, dir: dir, Port: dnstest.FreePort(t), Zone: o.Zone, stderr: &logBuf{}, done: make(chan struct{})}
	zoneFile := filepath.Join(dir, "rpz.db")
	zoneText := fmt.Sprintf("$TTL 60\n@ SOA ns.%s hostmaster.%s %d %s 60\n@ NS ns.%s\nns A 127.0.0.1\n%s\n",
		o.Zone, o.Zone, o.Serial, o.Timers, o.Zone, o.Records)
	if err := os.WriteFile(zoneFile, []byte(zoneText), 0o644); err != nil {
		t.Fatal(err)
	}
	return b, zoneFile
}

// Addr is the primary's address.
func (b *Primary) Addr() netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(b.Port))
}

// Stop kills named (idempotent).
func (b *Primary) Stop() {
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

// Serial asks the primary for the zone's serial.
func (b *Primary) Serial() (uint32, error) {
	m := new(dns.Msg)
	m.SetQuestion(b.Zone, dns.TypeSOA)
	c := &dns.Client{Timeout: time.Second}
	r, _, err := c.Exchange(m, b.Addr().String())
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

// Update runs nsupdate with lines ("update add x.rpz.test. 60 CNAME .")
// signed with the test key; the zone's serial goes up by one.
func (b *Primary) Update(lines ...string) {
	b.t.Helper()
	in := fmt.Sprintf("server 127.0.0.1 %d\nzone %s\n%s\nsend\n", b.Port, b.Zone, strings.Join(lines, "\n"))
	cmd := exec.Command("nsupdate", "-y", "hmac-sha256:"+KeyName+":"+KeySecret)
	cmd.Stdin = strings.NewReader(in)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.t.Fatalf("nsupdate: %v\n%s\nnamed:\n%s", err, out, b.stderr.String())
	}
}

// Log is named's output so far.
func (b *Primary) Log() string { return b.stderr.String() }

// logBuf holds named's output, written by the process, read by tests.
type logBuf = syncbuf.Buffer
