package feeds

import (
	"context"
	"testing"
)

// TestPolicyOverride: action_override forces one action on every block
// rule of a list of any format; exceptions stay; passthru makes the list
// all exceptions. log_only lists go to Table.WhatIf and shadow nothing.
func TestPolicyOverride(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string { return "file:" + writeFile(t, dir, name, body) }
	rpz := write("z.rpz", "$ORIGIN rpz.test.\n@ SOA ns h 1 3600 600 86400 60\nnx.example CNAME .\nsink.example A 192.0.2.1\nok.nx.example CNAME rpz-passthru.\n")
	adb := write("a.txt", "[Adblock Plus]\n||ads.example^\n@@||good.ads.example^\n")
	tests := []struct {
		name     string
		lists    []ListConfig
		want     map[string]string
		whatIf   map[string]string // decisions of Table.WhatIf
		validate bool              // expect a config error instead
	}{
		{"no override", []ListConfig{{Name: "z", Source: rpz}},
			map[string]string{"nx.example": "block:nxdomain", "sink.example": "block:sinkhole", "ok.nx.example": "allow"}, nil, false},
		{"rpz forced to drop", []ListConfig{{Name: "z", Source: rpz, ActionOverride: "drop"}},
			map[string]string{"nx.example": "block:drop", "sink.example": "block:drop", "ok.nx.example": "allow"}, nil, false},
		{"adblock forced to nodata", []ListConfig{{Name: "a", Source: adb, ActionOverride: "nodata"}},
			map[string]string{"x.ads.example": "block:nodata", "good.ads.example": "allow"}, nil, false},
		{"rpz forced to the list's sinkhole", []ListConfig{{Name: "z", Source: rpz, ActionOverride: "sinkhole", Sinkhole: []string{"198.51.100.9"}}},
			map[string]string{"nx.example": "block:sinkhole", "sink.example": "block:sinkhole"}, nil, false},
		{"passthru", []ListConfig{{Name: "z", Source: rpz, ActionOverride: "passthru"}},
			map[string]string{"nx.example": "allow", "sink.example": "allow"}, nil, false},
		{"log only", []ListConfig{{Name: "a", Source: adb, LogOnly: true}, {Name: "z", Source: rpz}},
			map[string]string{"x.ads.example": "none", "nx.example": "block:nxdomain"},
			map[string]string{"x.ads.example": "block:nxdomain", "good.ads.example": "allow", "nx.example": "none"}, false},
		{"log only does not shadow", []ListConfig{{Name: "z2", Source: rpz, LogOnly: true, ActionOverride: "refused"}, {Name: "z", Source: rpz}},
			map[string]string{"nx.example": "block:nxdomain"}, map[string]string{"nx.example": "block:refused"}, false},
		{"unknown override", []ListConfig{{Name: "z", Source: rpz, ActionOverride: "cname"}}, nil, nil, true},
		{"sinkhole override without addresses", []ListConfig{{Name: "z", Source: rpz, ActionOverride: "sinkhole"}}, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewManager(Options{Blocklists: tt.lists})
			if tt.validate {
				if err == nil {
					t.Fatal("config accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if err := m.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			checkDecisions(t, m, tt.want)
			tab := m.Load()
			if (tab.WhatIf != nil) != (tt.whatIf != nil) {
				t.Fatalf("WhatIf = %v, want one: %v", tab.WhatIf, tt.whatIf != nil)
			}
			for name, w := range tt.whatIf {
				got := "none"
				if mt, ok := tab.WhatIf.Match(name); ok {
					got = "block:" + mt.Payload.Action.String()
					if mt.Allow {
						got = "allow"
					}
				}
				if got != w {
					t.Errorf("what-if %s: %s, want %s", name, got, w)
				}
			}
		})
	}
}
