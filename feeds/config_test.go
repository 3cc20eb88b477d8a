package feeds

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-dns/bulwark/internal/cfgerr"
)

func TestListConfigValidate(t *testing.T) {
	ok := ListConfig{Name: "phishing", Source: "file:lists/p.txt"}
	tests := []struct {
		name  string
		allow bool
		edit  func(c *ListConfig)
		paths []string // want one error per path, in order
	}{
		{"minimal block", false, func(c *ListConfig) {}, nil},
		{"minimal allow", true, func(c *ListConfig) {}, nil},
		{"full block", false, func(c *ListConfig) {
			c.Source, c.Format, c.Action, c.Category, c.Refresh = "builtin:p.txt", "hosts", "sinkhole", "phishing", 3600e9
			c.Sinkhole = []string{"192.0.2.1", "2001:db8::1"}
		}, nil},
		{"every action", false, func(c *ListConfig) { c.Action = "drop" }, nil},
		{"empty name", false, func(c *ListConfig) { c.Name = "" }, []string{"b[0].name"}},
		{"spaced name", false, func(c *ListConfig) { c.Name = " x" }, []string{"b[0].name"}},
		{"empty source", false, func(c *ListConfig) { c.Source = "" }, []string{"b[0].source"}},
		{"bare path", false, func(c *ListConfig) { c.Source = "lists/p.txt" }, []string{"b[0].source"}},
		{"empty file", false, func(c *ListConfig) { c.Source = "file:" }, []string{"b[0].source"}},
		{"bad builtin", false, func(c *ListConfig) { c.Source = "builtin:../x" }, []string{"b[0].source"}},
		{"http not yet", false, func(c *ListConfig) { c.Source = "https://x.example/l.txt" }, []string{"b[0].source"}},
		{"unknown format", false, func(c *ListConfig) { c.Format = "csv" }, []string{"b[0].format"}},
		{"rpz not yet", false, func(c *ListConfig) { c.Format = "rpz" }, []string{"b[0].format"}},
		{"unknown action", false, func(c *ListConfig) { c.Action = "block" }, []string{"b[0].action"}},
		{"action on allow", true, func(c *ListConfig) { c.Action = "nxdomain" }, []string{"b[0].action"}},
		{"negative refresh", false, func(c *ListConfig) { c.Refresh = -1 }, []string{"b[0].refresh"}},
		{"sinkhole without addrs", false, func(c *ListConfig) { c.Action = "sinkhole" }, []string{"b[0].sinkhole"}},
		{"addrs without sinkhole", false, func(c *ListConfig) { c.Sinkhole = []string{"192.0.2.1"} }, []string{"b[0].sinkhole"}},
		{"addrs on allow", true, func(c *ListConfig) { c.Sinkhole = []string{"192.0.2.1"} }, []string{"b[0].sinkhole"}},
		{"bad addrs", false, func(c *ListConfig) {
			c.Action, c.Sinkhole = "sinkhole", []string{"192.0.2.1", "block.example", "fe80::1%eth0"}
		}, []string{"b[0].sinkhole[1]", "b[0].sinkhole[2]"}},
		{"many at once", false, func(c *ListConfig) { c.Name, c.Source, c.Format, c.Action = "", "", "x", "y" },
			[]string{"b[0].name", "b[0].source", "b[0].format", "b[0].action"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			errs := c.Validate("b[0]", tt.allow)
			if got := paths(t, errs); !slices.Equal(got, tt.paths) {
				t.Errorf("paths = %q, want %q; errors: %v", got, tt.paths, errs)
			}
		})
	}
}

func TestValidateLists(t *testing.T) {
	l := func(name string) ListConfig { return ListConfig{Name: name, Source: "file:x"} }
	tests := []struct {
		name          string
		blocks, allow []ListConfig
		paths         []string
	}{
		{"none", nil, nil, nil},
		{"distinct", []ListConfig{l("a"), l("b")}, []ListConfig{l("c")}, nil},
		{"dup in blocks", []ListConfig{l("a"), l("a")}, nil, []string{"blocklists[1].name"}},
		{"dup across", []ListConfig{l("a")}, []ListConfig{l("b"), l("a")}, []string{"allowlists[1].name"}},
		{"empty and invalid", []ListConfig{l("")}, []ListConfig{{Name: "x", Source: "file:x", Action: "drop"}},
			[]string{"blocklists[0].name", "allowlists[0].action"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := ValidateLists(tt.blocks, tt.allow)
			if got := paths(t, errs); !slices.Equal(got, tt.paths) {
				t.Errorf("paths = %q, want %q; errors: %v", got, tt.paths, errs)
			}
		})
	}
	errs := ValidateLists([]ListConfig{l("a")}, []ListConfig{l("a")})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "blocklists[0].name") {
		t.Errorf("duplicate error should point at the first use: %v", errs)
	}
}

// paths returns the cfgerr paths of errs, failing on any other error type.
func paths(t *testing.T, errs []error) []string {
	t.Helper()
	var out []string
	for _, err := range errs {
		var ce *cfgerr.Error
		if !errors.As(err, &ce) {
			t.Errorf("%v is %T, want *cfgerr.Error", err, err)
			continue
		}
		out = append(out, ce.Path)
	}
	return out
}
