package feeds

import (
	"bytes"
	"os"
	"testing"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// fuzzSeeds are quirky inputs shared by both fuzz targets.
var fuzzSeeds = []string{
	"",
	"a.example\n",
	"\ufeff# c\r\n0.0.0.0 A.Example. www.a.example # x\r\n",
	"*.a.example\n*.\n*\n",
	"bücher。example\nxn--bcher-kva.example\n",
	"127.0.0.1 localhost\nfe80::1%lo0 localhost\n0.0.0.0 0.0.0.0\n",
	"0.0.0.0 http://a.example/x\n999.1.1.1 a.example\n0.0.0.0\n",
	"a..b\n-a.b\n\x00\xff\n1.2.3.4\n::1\n10.0.0.0/8\n",
	"[Adblock Plus 2.0]\n! c\n||a.example^$important\n@@||b.example^|\n||c.example/x\n##.ad\n/re/\n||^\n@@\n",
	"$TTL 1h\n$ORIGIN rpz.example.\n@ SOA ns. a. (1 2\n 3 4 5) ; c\n a.example CNAME .\n*.b CNAME *.\nc A 192.0.2.1\n AAAA ::1\nd TXT \"x\\\"y\"\n",
	"x.rpz-ip CNAME .\n* CNAME .\n$INCLUDE f\n) (\n\"open\n",
	"24.0.2.0.192.rpz-ip CNAME .\n48.zz.1.db8.2001.rpz-client-ip CNAME rpz-passthru.\nns.x.rpz-nsdname CNAME rpz-tcp-only.\ng CNAME *.garden.\n",
}

// fuzzOpts says what a format may emit beyond plain subtree/below rules.
type fuzzOpts struct {
	singleLabel bool // RPZ triggers may be single labels ("*.zip")
	exact       bool // RPZ has exact rules
	actions     bool // RPZ rules carry actions and addresses
}

func fuzzParser(f *testing.F, parse ParseFunc, sample string, o fuzzOpts) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	if b, err := os.ReadFile(dataDir + "/" + sample); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		lines := bytes.Count(in, []byte{'\n'}) + 1
		last := 0
		emit := func(e Entry) {
			if e.Prefix.IsValid() != (e.Trigger == blocklist.TriggerClientIP || e.Trigger == blocklist.TriggerIP || e.Trigger == blocklist.TriggerNSIP) ||
				e.Prefix.IsValid() && (e.Name != "" || e.Prefix != e.Prefix.Masked()) {
				t.Fatalf("emitted trigger %+v", e)
			}
			if e.Prefix.IsValid() {
				return
			}
			if c, err := blocklist.CanonicalName(e.Name); err != nil || c != e.Name {
				t.Fatalf("emitted %q: canonical %q, err %v", e.Name, c, err)
			}
			if e.Name == "" || !o.singleLabel && bytes.IndexByte([]byte(e.Name), '.') < 0 {
				t.Fatalf("emitted single label %q", e.Name)
			}
			if e.Scope != blocklist.Below && e.Scope != blocklist.Subtree && !(o.exact && e.Scope == blocklist.Exact) {
				t.Fatalf("emitted %q with scope %v", e.Name, e.Scope)
			}
			if !o.actions && (e.HasAction || e.Addrs != nil) {
				t.Fatalf("emitted %q with an action", e.Name)
			}
			if e.HasAction && int(e.Action) >= blocklist.NumActions || (len(e.Local) > 0) != (e.Action == blocklist.ActionLocal) ||
				len(e.Addrs) > 0 && e.Action != blocklist.ActionSinkhole && e.Action != blocklist.ActionLocal {
				t.Fatalf("emitted %+v", e)
			}
			if e.Line < last || e.Line < 1 || e.Line > lines {
				t.Fatalf("emitted %q at line %d after line %d (of %d)", e.Name, e.Line, last, lines)
			}
			last = e.Line
		}
		reject := func(e LineError) {
			if e.Reason == "" || e.Line < 1 || e.Line > lines || len(e.Text) > maxTextLen+3 {
				t.Fatalf("bad rejection %+v", e)
			}
		}
		st, err := parse(bytes.NewReader(in), emit, reject)
		if err != nil {
			t.Fatalf("error from an in-memory reader: %v", err)
		}
		if st.Lines > lines {
			t.Fatalf("Lines = %d, input has at most %d", st.Lines, lines)
		}
	})
}

func FuzzParseDomains(f *testing.F) { fuzzParser(f, ParseDomains, "phishing_ips.txt", fuzzOpts{}) }

func FuzzParseHosts(f *testing.F) { fuzzParser(f, ParseHosts, "samples/phishing.hosts", fuzzOpts{}) }

func FuzzParseAdblock(f *testing.F) {
	fuzzParser(f, ParseAdblock, "samples/phishing.adblock.txt", fuzzOpts{})
}

func FuzzParseAuto(f *testing.F) {
	fuzzParser(f, ParseAuto, "samples/phishing.adblock.txt", fuzzOpts{})
}

func FuzzParseRPZ(f *testing.F) {
	fuzzParser(f, ParseRPZ, "samples/phishing.rpz.zone", fuzzOpts{singleLabel: true, exact: true, actions: true})
}

func FuzzDetectFormat(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if _, ok := LookupFormat(DetectFormat(in)); !ok {
			t.Fatalf("DetectFormat = %q", DetectFormat(in))
		}
	})
}
