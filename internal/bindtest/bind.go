// Package bindtest runs a real primary for tests — BIND 9's named (Start)
// or Knot DNS's knotd (StartKnot, knot.go) — serving a response policy
// zone with TSIG, dynamic updates (nsupdate) and an IXFR journal, on a
// free loopback port in the test's own directory, killed when the test
// ends. The Makefile's deps target installs bind9, bind9-utils and knot.
package bindtest

import (
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/internal/need"
	"github.com/bulwark-dns/bulwark/internal/proctest"
	"github.com/bulwark-dns/bulwark/internal/testfile"
	"github.com/bulwark-dns/bulwark/internal/wait"
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
	Port int
	Zone string
	proc *proctest.Process
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
	confFile := testfile.Write(t, dir, "named.conf", conf)
	b.run(exec.Command(named, "-g", "-c", confFile, "-n", "1"), len(o.Records))
	return b
}

// run starts the primary's process and waits until it answers the zone's
// SOA (longer for larger zones, which load slowly).
func (b *Primary) run(cmd *exec.Cmd, records int) {
	b.t.Helper()
	b.proc = proctest.Start(b.t, cmd, 30*time.Second+time.Duration(records)*time.Microsecond, func() bool {
		_, err := b.Serial()
		return err == nil
	})
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
	b := &Primary{t: t, dir: dir, Port: dnstest.FreePort(t), Zone: o.Zone}
	zoneText := fmt.Sprintf("$TTL 60\n@ SOA ns.%s hostmaster.%s %d %s 60\n@ NS ns.%s\nns A 127.0.0.1\n%s\n",
		o.Zone, o.Zone, o.Serial, o.Timers, o.Zone, o.Records)
	return b, testfile.Write(t, dir, "rpz.db", zoneText)
}

// Addr is the primary's address.
func (b *Primary) Addr() netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(b.Port))
}

// Stop kills the primary (idempotent).
func (b *Primary) Stop() { b.proc.Stop() }

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
// signed with the test key; the zone's serial goes up by one. The update
// goes over TCP, once, bounded by wait.Bound: over UDP nsupdate gives up
// after 4 tries 3 s apart, which a loaded machine has outlasted
// (TestXfrRestartIXFR: "timed out"), and a retry may resend an update the
// primary applied but answered late.
func (b *Primary) Update(lines ...string) {
	b.t.Helper()
	in := fmt.Sprintf("server 127.0.0.1 %d\nzone %s\n%s\nsend\n", b.Port, b.Zone, strings.Join(lines, "\n"))
	cmd := exec.Command("nsupdate", "-v", "-t", strconv.Itoa(int(wait.Bound/time.Second)), "-y", "hmac-sha256:"+KeyName+":"+KeySecret)
	cmd.Stdin = strings.NewReader(in)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.t.Fatalf("nsupdate: %v\n%s\nnamed:\n%s", err, out, b.Log())
	}
}

// Log is the primary's output so far.
func (b *Primary) Log() string { return b.proc.Output.String() }
