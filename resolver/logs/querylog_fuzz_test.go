package logs

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/resolver/dnswire"
	"github.com/bulwark-dns/bulwark/resolver/query"
)

// FuzzQueryLogLine checks that a query log line is valid JSON whatever the
// query name holds (presentation-format escapes, quotes, control bytes,
// invalid UTF-8), and that the name reads back as encoding/json would have
// written it.
func FuzzQueryLogLine(f *testing.F) {
	for _, s := range []string{"example.com.", `a\"b.example.`, "long-clean-run.then\x01.then-\"quote\\.caf\xc3\xa9-tail.", `x\\y.`, "\x00\x1f\x7f.", "caf\xc3\xa9.", "\xff\xfe.", "\u2028\u2029.", "UPPER.Example.", ".", ""} {
		f.Add(s, uint16(1), 0, 3)
	}
	f.Fuzz(func(t *testing.T, qname string, qtype uint16, rcode, answers int) {
		r := queryRecord{
			received: time.Unix(1700000000, 123456789), duration: 1234567 * time.Nanosecond,
			client: netip.MustParseAddrPort("[2001:db8::1]:53"), proto: query.ProtoDoH,
			qname: qname, qtype: qtype, rcode: rcode, answers: answers,
		}
		line, err := appendQueryRecord(nil, nil, &r, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(line) == 0 || line[len(line)-1] != '\n' {
			t.Fatalf("line %q does not end in a newline", line)
		}
		var got map[string]any
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("line %q is not JSON: %v", line, err)
		}
		// What encoding/json makes of the same (canonical) name.
		ref, _ := json.Marshal(dnswire.Canonical(qname))
		var want string
		_ = json.Unmarshal(ref, &want)
		if got["qname"] != want {
			t.Fatalf("qname %q read back as %q, want %q", qname, got["qname"], want)
		}
		if got["client"] != "2001:db8::1" || got["protocol"] != "doh" || got["duration_ms"] != 1.235 || got["answers"] != float64(answers) {
			t.Fatalf("fields: %v", got)
		}
	})
}
