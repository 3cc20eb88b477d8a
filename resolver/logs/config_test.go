package logs

import (
	"strings"
	"testing"

	"github.com/bulwark-dns/bulwark/resolver/logsink"
)

func TestConfigSinks(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string // substring of the first error; "" valid
		n    int    // sinks of the block log
	}{
		{Config{Blocked: "syslog+tls://siem.example:6514"}, "", 1},
		{Config{Blocked: "stdout", Sinks: []logsink.Config{{URL: "syslog+udp://127.0.0.1"}, {URL: "https://hec:8088/x", Log: "queries"}}}, "", 1},
		{Config{Blocked: "syslog+tcp://h:99999"}, "log.blocked: ", 0},
		{Config{Blocked: "syslog+tcp://a", Sinks: []logsink.Config{{URL: "syslog+udp://a"}}}, `two sinks are named "a"`, 2},
		{Config{Sinks: []logsink.Config{{URL: "ftp://x"}}}, "log.sinks[0].url", 0},
	}
	for _, tt := range tests {
		c := tt.cfg
		c.SetDefaults()
		errs := c.Validate("log")
		if tt.want == "" {
			if len(errs) > 0 {
				t.Errorf("%+v: %v", tt.cfg, errs)
			}
			if got := len(c.SinksOf("blocked")); got != tt.n {
				t.Errorf("%+v: %d block log sinks, want %d", tt.cfg, got, tt.n)
			}
			continue
		}
		found := false
		for _, err := range errs {
			found = found || strings.Contains(err.Error(), tt.want)
		}
		if !found {
			t.Errorf("%+v: %v, want %q", tt.cfg, errs, tt.want)
		}
	}
}
