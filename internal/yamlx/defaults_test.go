package yamlx

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

type inner struct {
	Size   int
	Format string
}

type defaulted struct {
	Timeout time.Duration
	Name    string
	Rate    float64
	Gzip    *bool
	Exempt  []string
	Nested  inner
	Prefix  netip.Prefix
	Off     bool
	decoded bool
}

func TestDefaults(t *testing.T) {
	pfx := netip.MustParsePrefix("10.0.0.0/8")
	def := func() defaulted {
		return defaulted{Timeout: time.Second, Name: "bulwark", Rate: 100, Gzip: new(true), Exempt: []string{"a"},
			Nested: inner{Size: 10}, Prefix: pfx, decoded: true}
	}
	tests := []struct {
		name string
		in   defaulted
		want defaulted
	}{
		{"all unset", defaulted{},
			defaulted{Timeout: time.Second, Name: "bulwark", Rate: 100, Gzip: new(true), Exempt: []string{"a"}, Nested: inner{Size: 10}, Prefix: pfx}},
		{"written keys kept", defaulted{Timeout: time.Minute, Name: "x", Rate: 5, Gzip: new(false), Exempt: []string{}, Nested: inner{Size: 3, Format: "ndjson"},
			Prefix: netip.MustParsePrefix("::/0"), Off: true},
			defaulted{Timeout: time.Minute, Name: "x", Rate: 5, Gzip: new(false), Exempt: []string{}, Nested: inner{Size: 3, Format: "ndjson"},
				Prefix: netip.MustParsePrefix("::/0"), Off: true}},
		{"nested field by field", defaulted{Nested: inner{Format: "cef"}},
			defaulted{Timeout: time.Second, Name: "bulwark", Rate: 100, Gzip: new(true), Exempt: []string{"a"}, Nested: inner{Size: 10, Format: "cef"}, Prefix: pfx}},
		{"negative zero float is unset", defaulted{Rate: negZero()},
			defaulted{Timeout: time.Second, Name: "bulwark", Rate: 100, Gzip: new(true), Exempt: []string{"a"}, Nested: inner{Size: 10}, Prefix: pfx}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in
			Defaults(&got, def())
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Defaults(%+v) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

// TestDefaultsUnexported checks that unexported state (a section's
// decoded flag) is neither read from the defaults nor overwritten.
func TestDefaultsUnexported(t *testing.T) {
	got := defaulted{}
	Defaults(&got, defaulted{decoded: true})
	if got.decoded {
		t.Error("Defaults set an unexported field")
	}
}

func negZero() float64 {
	z := 0.0
	return -z
}
