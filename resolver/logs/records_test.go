package logs

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/resolver/privacy"
	"github.com/bulwark-dns/bulwark/resolver/query"
	tenants "github.com/bulwark-dns/bulwark/resolver/tenant"
)

// schemas compiles docs/schema's block log and query log schemas, with
// formats asserted (date-time, ipv4, ipv6), under their $id so that the
// query log's reference to the block log's resolves offline.
func schemas(t *testing.T) (block, queries *jsonschema.Schema) {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	const base = "https://bulwark-dns.github.io/schema/"
	for _, name := range []string{"blocklog.v1.schema.json", "querylog.v1.schema.json"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "docs", "schema", name))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := c.AddResource(base+name, doc); err != nil {
			t.Fatal(err)
		}
	}
	block, err := c.Compile(base + "blocklog.v1.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	queries, err = c.Compile(base + "querylog.v1.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return block, queries
}

func validate(t *testing.T, s *jsonschema.Schema, line []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(line))
	if err != nil {
		t.Fatalf("not JSON: %v: %s", err, line)
	}
	return s.Validate(inst)
}

// clientModes are a Set per `client:` mode, each with two tenants of
// their own: council-a omits, lab-d writes in full.
func clientModes(t *testing.T) map[string]*privacy.Set {
	t.Helper()
	sets := map[string]*privacy.Set{"nil Set": nil}
	for _, mode := range []string{"full", "truncate", "hash", "omit"} {
		s, err := privacy.NewSet(privacy.Config{Client: mode, Secret: []byte("0123456789abcdef")},
			map[string]string{"council-a": "omit", "lab-d": "full"})
		if err != nil {
			t.Fatal(err)
		}
		sets[mode] = s
	}
	return sets
}

// wantClient is the "client" member a record of tenant holds under mode
// ("" for none), for client 198.51.100.7 or 2001:db8:a:1ff::7.
func wantClient(mode, tenant string, v6 bool) string {
	switch {
	case mode == "nil Set", tenant == "lab-d":
		mode = "full"
	case tenant == "council-a":
		mode = "omit"
	}
	switch mode {
	case "full":
		if v6 {
			return `"client":"2001:db8:a:1ff::7"`
		}
		return `"client":"198.51.100.7"`
	case "truncate":
		if v6 {
			return `"client":"2001:db8:a:100::/56"`
		}
		return `"client":"198.51.100.0/24"`
	case "hash":
		return `"client":"hmac:`
	}
	return ""
}

// TestBlockRecordsMatchSchema encodes every kind of block log record
// (each action, a CNAME-cloaked match, log-only, with and without a
// tenant, IPv4 and IPv6 clients) under every client mode, validates each
// line against docs/schema/blocklog.v1.schema.json, and checks the client
// member is what the mode (or the tenant's own mode) writes.
func TestBlockRecordsMatchSchema(t *testing.T) {
	block, _ := schemas(t)
	table := &blocklist.Table{Lists: []blocklist.ListInfo{{Name: "phishing"}, {Name: "trial"}}, Categories: []string{"", "phishing"}}
	at := time.Date(2026, 12, 2, 10, 0, 0, 123456789, time.UTC)
	type kind struct {
		name string
		rec  BlockRecord
		want []string // further members the line must hold
	}
	var kinds []kind
	for a := blocklist.ActionNXDomain; a <= blocklist.ActionDrop; a++ {
		kinds = append(kinds, kind{"action " + a.String(), BlockRecord{QName: "login.evil.example", QType: 1, Proto: query.ProtoUDP,
			Decision: query.Decision{Table: table, Match: blocklist.Match{Scope: blocklist.Below, Offset: 6, Payload: blocklist.Payload{Action: a, Category: 1}}}},
			[]string{`"action":"` + a.String() + `"`, `"rule":"*.evil.example"`, `"category":"phishing"`}})
	}
	kinds = append(kinds,
		kind{"CNAME-matched", BlockRecord{QName: "shop.example", QType: 28, Proto: query.ProtoDoH,
			Decision: query.Decision{Table: table, CNAME: "c.tracker.example", Match: blocklist.Match{Offset: 2}}},
			[]string{`"cname":"c.tracker.example"`, `"rule":"tracker.example"`, `"protocol":"doh"`}},
		kind{"log_only", BlockRecord{QName: "new.example", QType: 65, Proto: query.ProtoDoT, LogOnly: true,
			Decision: query.Decision{Table: table, Match: blocklist.Match{Payload: blocklist.Payload{List: 1}}}},
			[]string{`"log_only":true`, `"list":"trial"`, `"qtype":"HTTPS"`}},
		kind{"unknown qtype, odd name", BlockRecord{QName: `we"ird\\name.example`, QType: 65534, Proto: query.ProtoTCP,
			Decision: query.Decision{Table: table}}, []string{`"qtype":"TYPE65534"`}},
	)
	n := 0
	for mode, set := range clientModes(t) {
		for _, k := range kinds {
			for _, tenant := range []string{"", "council-a", "lab-d", "other"} {
				for _, client := range []string{"198.51.100.7", "2001:db8:a:1ff::7"} {
					r := k.rec
					r.At, r.Client = at, netip.MustParseAddr(client)
					if tenant != "" {
						r.Tenant = &tenants.Tenant{Name: tenant}
					}
					line, err := appendBlockRecord(nil, nil, nil, &r, set)
					if err != nil {
						t.Fatal(err)
					}
					n++
					if err := validate(t, block, line); err != nil {
						t.Errorf("%s, %s, tenant %q: %s\ndoes not match the schema: %v", k.name, mode, tenant, line, err)
					}
					checkMembers(t, line, mode, tenant, strings.Contains(client, ":"), k.want)
				}
			}
		}
	}
	t.Logf("%d block log records validated", n)
}

// TestQueryRecordsMatchSchema does the same for the query log: answered,
// dropped and unparsable queries.
func TestQueryRecordsMatchSchema(t *testing.T) {
	_, queries := schemas(t)
	kinds := []struct {
		name string
		rec  queryRecord
		want []string
	}{
		{"answered", queryRecord{qname: "www.example.org.", qtype: 1, rcode: 0, answers: 2, duration: 412 * time.Microsecond},
			[]string{`"rcode":"NOERROR"`, `"answers":2`, `"duration_ms":0.412`, `"qname":"www.example.org"`}},
		{"dropped", queryRecord{qname: "evil.example.", qtype: 28, rcode: -1, proto: query.ProtoTCP}, []string{`"rcode":"dropped"`}},
		{"unparsable", queryRecord{rcode: 1}, []string{`"qname":""`, `"rcode":"FORMERR"`}},
	}
	for mode, set := range clientModes(t) {
		for _, k := range kinds {
			for _, tenant := range []string{"", "council-a", "lab-d"} {
				for _, client := range []string{"198.51.100.7", "2001:db8:a:1ff::7"} {
					r := k.rec
					r.received, r.tenant = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC), tenant
					r.client = netip.AddrPortFrom(netip.MustParseAddr(client), 5353)
					line, err := appendQueryRecord(nil, nil, &r, set)
					if err != nil {
						t.Fatal(err)
					}
					if err := validate(t, queries, line); err != nil {
						t.Errorf("%s, %s, tenant %q: %s\ndoes not match the schema: %v", k.name, mode, tenant, line, err)
					}
					checkMembers(t, line, mode, tenant, strings.Contains(client, ":"), k.want)
				}
			}
		}
	}
}

// checkMembers checks line's client and tenant members, that the full
// address is absent unless the mode writes it, and the members want.
func checkMembers(t *testing.T, line []byte, mode, tenant string, v6 bool, want []string) {
	t.Helper()
	s := string(line)
	wc := wantClient(mode, tenant, v6)
	if wc == "" && strings.Contains(s, `"client"`) || wc != "" && !strings.Contains(s, wc) {
		t.Errorf("%s, tenant %q: want %q in %s", mode, tenant, wc, s)
	}
	if full := wantClient("full", "", v6); wc != full && strings.Contains(s, strings.TrimPrefix(full, `"client":`)) {
		t.Errorf("%s, tenant %q: the full address is in %s", mode, tenant, s)
	}
	if (tenant != "") != strings.Contains(s, `"tenant":"`+tenant+`"`) || tenant == "" && strings.Contains(s, `"tenant"`) {
		t.Errorf("tenant %q: %s", tenant, s)
	}
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("%s: lacks %s", s, w)
		}
	}
}

// TestSchemaRejects: the schemas are no rubber stamp. Records a writer
// bug could produce fail them.
func TestSchemaRejects(t *testing.T) {
	block, queries := schemas(t)
	good := `"time":"2026-12-02T10:00:00Z","protocol":"udp","qname":"a.example","qtype":"A"`
	tests := []struct {
		schema *jsonschema.Schema
		line   string
	}{
		{block, `{` + good + `,"list":"l","rule":"a.example","action":"nxdomain"}`}, // no category
		{block, `{` + good + `,"client":"198.51.100","list":"l","rule":"r","action":"a","category":""}`},
		{block, `{` + good + `,"client":"hmac:xyz","list":"l","rule":"r","action":"a","category":""}`},
		{block, `{` + good + `,"tenant":"","list":"l","rule":"r","action":"a","category":""}`},
		{block, `{` + good + `,"list":"l","rule":"r","action":"a","category":"","clientip":"x"}`},
		{block, `{` + good + `,"list":"l","rule":"r","action":"a","category":"","log_only":false}`},
		{queries, `{` + good + `,"rcode":"NOERROR","duration_ms":-1,"answers":0}`},
		{queries, `{` + strings.Replace(good, "udp", "quic", 1) + `,"rcode":"NOERROR","duration_ms":1,"answers":0}`},
		{queries, `{"time":"yesterday","protocol":"udp","qname":"","qtype":"A","rcode":"NOERROR","duration_ms":1,"answers":0}`},
	}
	for _, tt := range tests {
		if err := validate(t, tt.schema, []byte(tt.line)); err == nil {
			t.Errorf("the schema accepts %s", tt.line)
		}
	}
	if err := validate(t, block, []byte(`{`+good+`,"client":"198.51.100.0/24","tenant":"t","list":"l","rule":"r","action":"a","category":""}`)); err != nil {
		t.Errorf("a good record: %v", err)
	}
}

// BenchmarkAppendBlockRecord is the block log writer's cost per line under
// each client mode (on the writer goroutine, not the query path): hash is
// an HMAC-SHA-256 per line.
func BenchmarkAppendBlockRecord(b *testing.B) {
	table := &blocklist.Table{Lists: []blocklist.ListInfo{{Name: "phishing"}}, Categories: []string{"phishing"}}
	r := BlockRecord{At: time.Now(), Client: netip.MustParseAddr("198.51.100.7"), QName: "login.evil.example", QType: 1,
		Decision: query.Decision{Table: table, Match: blocklist.Match{Scope: blocklist.Below, Offset: 6}}}
	for _, mode := range []string{"full", "truncate", "hash", "omit"} {
		set, err := privacy.NewSet(privacy.Config{Client: mode}, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(mode, func(b *testing.B) {
			var stamps stampCache
			var segs listSegs
			buf := make([]byte, 0, 512)
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = appendBlockRecord(buf[:0], &stamps, &segs, &r, set)
			}
		})
	}
}

// TestBlockLineSegmentsCached: the writer's cached list, action and
// category text gives the lines written without it, byte for byte, as
// records change list, action, category and table (a refresh: same
// names, or a renamed list at the same index) from one line to the next.
func TestBlockLineSegmentsCached(t *testing.T) {
	t1 := &blocklist.Table{Lists: []blocklist.ListInfo{{Name: "ads"}, {Name: "mal\"ware"}}, Categories: []string{"ads", "malware"}}
	t2 := &blocklist.Table{Lists: []blocklist.ListInfo{{Name: "ads"}, {Name: "phish"}}, Categories: []string{"ads", "phishing"}}
	rec := func(tab *blocklist.Table, list, cat uint16, a blocklist.Action) BlockRecord {
		return BlockRecord{At: time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC), Client: netip.MustParseAddr("192.0.2.1"),
			QName: "x.evil.example", QType: 1, Decision: query.Decision{Table: tab,
				Match: blocklist.Match{Scope: blocklist.Below, Offset: 2, Payload: blocklist.Payload{List: list, Category: cat, Action: a}}}}
	}
	for _, tc := range []struct {
		name string
		recs []BlockRecord
	}{
		{"one list", []BlockRecord{rec(t1, 0, 0, blocklist.ActionNXDomain), rec(t1, 0, 0, blocklist.ActionNXDomain)}},
		{"list changes", []BlockRecord{rec(t1, 0, 0, blocklist.ActionNXDomain), rec(t1, 1, 0, blocklist.ActionNXDomain), rec(t1, 0, 0, blocklist.ActionNXDomain)}},
		{"action changes", []BlockRecord{rec(t1, 0, 0, blocklist.ActionNXDomain), rec(t1, 0, 0, blocklist.ActionNoData), rec(t1, 0, 0, blocklist.ActionRefused)}},
		{"category changes", []BlockRecord{rec(t1, 1, 0, blocklist.ActionNXDomain), rec(t1, 1, 1, blocklist.ActionNXDomain)}},
		{"refresh renames", []BlockRecord{rec(t1, 1, 1, blocklist.ActionNXDomain), rec(t2, 1, 1, blocklist.ActionNXDomain), rec(t2, 0, 0, blocklist.ActionNXDomain), rec(t1, 0, 0, blocklist.ActionNXDomain)}},
		{"out of range", []BlockRecord{rec(t1, 0, 0, blocklist.ActionNXDomain), rec(t1, 7, 9, blocklist.ActionNXDomain), rec(&blocklist.Table{}, 0, 0, blocklist.ActionNXDomain)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var segs listSegs
			for i := range tc.recs {
				want, _ := appendBlockRecord(nil, nil, nil, &tc.recs[i], nil)
				got, _ := appendBlockRecord(nil, nil, &segs, &tc.recs[i], nil)
				if !bytes.Equal(got, want) {
					t.Errorf("line %d with the cache:\n%s\nwithout:\n%s", i, got, want)
				}
			}
		})
	}
}
