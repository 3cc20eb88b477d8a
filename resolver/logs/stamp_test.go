package logs

import (
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestStampCacheMatchesFormat checks the cached formatting against
// time.Time.AppendFormat itself, in sequence through one cache, so that a
// stale second or a fraction's trailing zeros would show.
func TestStampCacheMatchesFormat(t *testing.T) {
	base := time.Date(2026, 12, 3, 12, 15, 59, 0, time.UTC)
	east := time.FixedZone("east", 5*3600+30*60)
	times := []struct {
		name string
		at   time.Time
	}{
		{"whole second", base},
		{"nanoseconds", base.Add(123456789)},
		{"trailing zeros", base.Add(120 * time.Millisecond)},
		{"one nanosecond", base.Add(1)},
		{"same second again", base.Add(999999999)},
		{"next second", base.Add(time.Second)},
		{"next second, fraction", base.Add(time.Second + 5*time.Microsecond)},
		{"next minute", base.Add(61 * time.Second)},
		{"back a second", base.Add(-time.Nanosecond)},
		{"other zone, same instant", base.Add(42).In(east)},
		{"year 10000", time.Date(10000, 1, 1, 0, 0, 0, 7, time.UTC)},
		{"after year 10000", base.Add(3)},
		{"year 0", time.Date(0, 6, 1, 0, 0, 0, 0, time.UTC)},
		{"leap day", time.Date(2028, 2, 29, 23, 59, 59, 100, time.UTC)},
		{"zero time", time.Time{}},
	}
	var c stampCache
	for _, tc := range times {
		want := tc.at.UTC().Format(time.RFC3339Nano)
		if got := string(c.append([]byte("x"), tc.at)); got != "x"+want {
			t.Errorf("%s: %q, want %q", tc.name, got, "x"+want)
		}
		var nilCache *stampCache
		if got := string(nilCache.append(nil, tc.at)); got != want {
			t.Errorf("%s, no cache: %q, want %q", tc.name, got, want)
		}
	}
}

// TestQtypeNameMatchesMiekg checks the table of type names against
// miekg/dns for every type, known or not.
func TestQtypeNameMatchesMiekg(t *testing.T) {
	for q := 0; q <= 0xffff; q++ {
		if got, want := qtypeName(uint16(q)), dns.Type(q).String(); got != want {
			t.Fatalf("qtype %d: %q, want %q", q, got, want)
		}
	}
}
