package privacy

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func mustNew(t *testing.T, c Config) *Masker {
	t.Helper()
	if errs := c.Validate("log"); len(errs) > 0 {
		t.Fatalf("Validate(%+v): %v", c, errs)
	}
	m, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAppendClient(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		cfg    Config
		addr   string
		want   string // "" with ok false: omitted
		prefix string // for hash: the expected prefix only
	}{
		{Config{}, "198.51.100.7", "198.51.100.7", ""},
		{Config{Client: "full"}, "2001:db8:a:1::7", "2001:db8:a:1::7", ""},
		{Config{Client: "truncate"}, "198.51.100.7", "198.51.100.0/24", ""},
		{Config{Client: "truncate"}, "2001:db8:a:1ff::7", "2001:db8:a:100::/56", ""},
		{Config{Client: "truncate"}, "::ffff:198.51.100.7", "198.51.100.0/24", ""},
		{Config{Client: "truncate", TruncateIPv4: 16, TruncateIPv6: 48}, "198.51.100.7", "198.51.0.0/16", ""},
		{Config{Client: "truncate", TruncateIPv4: 16, TruncateIPv6: 48}, "2001:db8:a:1ff::7", "2001:db8:a::/48", ""},
		{Config{Client: "hash"}, "198.51.100.7", "", "hmac:"},
		{Config{Client: "omit"}, "198.51.100.7", "", ""},
	}
	for _, tt := range tests {
		m := mustNew(t, tt.cfg)
		got, ok := m.AppendClient(nil, netip.MustParseAddr(tt.addr), now)
		switch {
		case tt.prefix != "":
			if !ok || !strings.HasPrefix(string(got), tt.prefix) || len(got) != len(tt.prefix)+32 {
				t.Errorf("%+v %s: got %q, %v; want %s and 32 hex digits", tt.cfg, tt.addr, got, ok, tt.prefix)
			}
			if strings.Contains(string(got), tt.addr) {
				t.Errorf("%+v: hash %q holds the address", tt.cfg, got)
			}
		case tt.want == "":
			if ok || len(got) != 0 {
				t.Errorf("%+v %s: got %q, %v; want it omitted", tt.cfg, tt.addr, got, ok)
			}
		default:
			if !ok || string(got) != tt.want {
				t.Errorf("%+v %s: got %q, %v; want %q", tt.cfg, tt.addr, got, ok, tt.want)
			}
		}
	}
}

// Hashes link one client within a rotation period, separate clients, and
// do not link across periods.
func TestHashRotation(t *testing.T) {
	m := mustNew(t, Config{Client: "hash"})
	a, b := netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("198.51.100.8")
	day := time.Date(2026, 12, 2, 0, 0, 1, 0, time.UTC)
	h1 := m.Client(a, day)
	if h2 := m.Client(a, day.Add(23*time.Hour)); h1 != h2 {
		t.Errorf("same day: %s != %s", h1, h2)
	}
	if hb := m.Client(b, day); hb == h1 {
		t.Errorf("two clients hash alike: %s", hb)
	}
	if next := m.Client(a, day.Add(24*time.Hour)); next == h1 {
		t.Errorf("next day links: %s", next)
	}
	hourly := mustNew(t, Config{Client: "hash", HashRotation: time.Hour})
	if hourly.Client(a, day) == hourly.Client(a, day.Add(time.Hour)) {
		t.Error("hash_rotation 1h: consecutive hours link")
	}
}

// Two instances with one key file agree; without one they do not.
func TestHashKeyFile(t *testing.T) {
	key := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(key, []byte("0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	a := netip.MustParseAddr("2001:db8::1")
	m1 := mustNew(t, Config{Client: "hash", HashKeyFile: key})
	m2 := mustNew(t, Config{Client: "hash", HashKeyFile: key})
	if m1.Client(a, now) != m2.Client(a, now) {
		t.Error("two maskers with one key file disagree")
	}
	r1, r2 := mustNew(t, Config{Client: "hash"}), mustNew(t, Config{Client: "hash"})
	if r1.Client(a, now) == r2.Client(a, now) {
		t.Error("two random secrets agree")
	}
	short := filepath.Join(t.TempDir(), "short")
	os.WriteFile(short, []byte("tooshort"), 0o600)
	if _, err := New(Config{Client: "hash", HashKeyFile: short}); err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Errorf("short key: err = %v", err)
	}
	if _, err := New(Config{Client: "hash", HashKeyFile: filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Error("missing key file: no error")
	}
}

func TestWireAddr(t *testing.T) {
	a := netip.MustParseAddr("198.51.100.7")
	for _, tt := range []struct {
		mode string
		want string
	}{{"full", "198.51.100.7"}, {"truncate", "198.51.100.0"}, {"hash", ""}, {"omit", ""}} {
		got, ok := mustNew(t, Config{Client: tt.mode}).WireAddr(a)
		if tt.want == "" {
			if ok {
				t.Errorf("%s: got %s, want none", tt.mode, got)
			}
			continue
		}
		if !ok || got.String() != tt.want {
			t.Errorf("%s: got %s %v, want %s", tt.mode, got, ok, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string // substring of the error; "" valid
	}{
		{Config{}, ""},
		{Config{Client: "truncate", TruncateIPv4: 20, TruncateIPv6: 64}, ""},
		{Config{Client: "hash", HashRotation: time.Hour}, ""},
		{Config{Client: "partial"}, `log.client: "partial" is not one of full, truncate, hash, omit`},
		{Config{Client: "truncate", TruncateIPv4: 33}, "log.truncate_ipv4: 33 is outside 0-32"},
		{Config{Client: "truncate", TruncateIPv6: 129}, "log.truncate_ipv6: 129 is outside 0-128"},
		{Config{Client: "hash", HashRotation: time.Second}, "log.hash_rotation: 1s is below 1m"},
		{Config{Client: "truncate", HashKeyFile: "/k"}, "log.hash_key_file: is used only with client: hash"},
	}
	for _, tt := range tests {
		errs := tt.cfg.Validate("log")
		if tt.want == "" {
			if len(errs) > 0 {
				t.Errorf("%+v: %v", tt.cfg, errs)
			}
			continue
		}
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.cfg, errs, tt.want)
		}
	}
}

// TestValidateAlso: the key file is right when a log's override or a
// tenant hashes while the default mode does not.
func TestValidateAlso(t *testing.T) {
	c := Config{Client: "truncate", HashKeyFile: "/k"}
	if errs := c.Validate("log", "omit", "hash"); len(errs) > 0 {
		t.Errorf("with a hashing override: %v", errs)
	}
	if errs := c.Validate("log", "omit", "full"); len(errs) != 1 {
		t.Errorf("with no hashing mode: %v, want the hash_key_file error", errs)
	}
}

func TestAppendClientAllocs(t *testing.T) {
	a := netip.MustParseAddr("198.51.100.7")
	buf := make([]byte, 0, 64)
	for _, mode := range []string{"full", "truncate", "omit"} {
		m := mustNew(t, Config{Client: mode})
		if n := testing.AllocsPerRun(100, func() { m.AppendClient(buf[:0], a, time.Time{}) }); n != 0 {
			t.Errorf("%s: %v allocations per address", mode, n)
		}
	}
}

// TestSet: a tenant's own mode wins for its records; tenants without one,
// and the default policy, get the destination's; one secret hashes alike
// in every Set built with it.
func TestSet(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	cfg := Config{Client: "truncate", Secret: secret}
	s, err := NewSet(cfg, map[string]string{"council-a": "hash", "school-b": "omit", "isp-c": "", "lab-d": "full"})
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr("198.51.100.7")
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	other, err := NewSet(Config{Client: "hash", Secret: secret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tenant string
		want   string // "" omitted
	}{
		{"", "198.51.100.0/24"},
		{"isp-c", "198.51.100.0/24"},
		{"unknown", "198.51.100.0/24"},
		{"lab-d", "198.51.100.7"},
		{"school-b", ""},
		{"council-a", other.For("").Client(a, now)},
	}
	for _, tt := range tests {
		if got := s.For(tt.tenant).Client(a, now); got != tt.want {
			t.Errorf("tenant %q: %q, want %q", tt.tenant, got, tt.want)
		}
	}
	if !strings.HasPrefix(tests[5].want, "hmac:") {
		t.Errorf("hash gave %q", tests[5].want)
	}
	var none *Set
	if got := none.For("x").Client(a, now); got != "198.51.100.7" {
		t.Errorf("nil Set: %q, want the full address", got)
	}
	if _, err := NewSet(cfg, map[string]string{"x": "partial"}); err == nil || !strings.Contains(err.Error(), `tenant "x"`) {
		t.Errorf("a bad tenant mode: %v", err)
	}
}
