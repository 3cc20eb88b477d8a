package dnstap

import (
	"strings"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/internal/cfgerr"
)

func TestConfigValidate(t *testing.T) {
	no := false
	long := strings.Repeat("x", 256)
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // "path: message fragment"; "" for valid
	}{
		{"off", Config{}, ""},
		{"unix", Config{Socket: "unix:/run/dnstap.sock"}, ""},
		{"tcp v4", Config{Socket: "tcp:127.0.0.1:6000"}, ""},
		{"tcp v6", Config{Socket: "tcp:[::1]:6000"}, ""},
		{"no scheme", Config{Socket: "/run/dnstap.sock"}, `dnstap.socket: "/run/dnstap.sock" has no scheme`},
		{"bad scheme", Config{Socket: "udp:127.0.0.1:6000"}, `dnstap.socket: "udp:127.0.0.1:6000": unknown scheme "udp"`},
		{"relative unix", Config{Socket: "unix:dnstap.sock"}, "dnstap.socket: \"unix:dnstap.sock\": the unix socket path must be absolute"},
		{"empty unix", Config{Socket: "unix:"}, "dnstap.socket: \"unix:\": the unix socket path must be absolute"},
		{"long unix", Config{Socket: "unix:/" + long}, "dnstap.socket: \"unix:/" + long + "\": unix socket paths are limited to 107 bytes"},
		{"tcp host name", Config{Socket: "tcp:collector.example:6000"}, "dnstap.socket: \"tcp:collector.example:6000\": want tcp:IP:port"},
		{"tcp no port", Config{Socket: "tcp:127.0.0.1"}, "want tcp:IP:port"},
		{"tcp port 0", Config{Socket: "tcp:127.0.0.1:0"}, "want tcp:IP:port"},
		{"nothing to send", Config{Socket: "unix:/x", LogQueries: &no, LogResponses: &no}, "dnstap.log_queries: log_queries and log_responses are both false"},
		{"long identity", Config{Identity: long}, "dnstap.identity: longer than 255 bytes"},
		{"long version", Config{Version: long}, "dnstap.version: longer than 255 bytes"},
		{"queue negative", Config{QueueSize: -1}, "dnstap.queue_size: -1 is outside 1-1000000"},
		{"queue huge", Config{QueueSize: 2_000_000}, "dnstap.queue_size: 2000000 is outside"},
		{"timeout tiny", Config{Timeout: time.Millisecond}, "dnstap.timeout: 1ms is outside 10ms-1m"},
		{"client truncate", Config{Client: "truncate"}, ""},
		{"client unknown", Config{Client: "blur"}, `dnstap.client: "blur" is not one of full, truncate, hash, omit`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.SetDefaults()
			errs := tc.cfg.Validate("dnstap")
			if tc.want == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				return
			}
			if len(errs) != 1 {
				t.Fatalf("errors %v, want one: %s", errs, tc.want)
			}
			if _, ok := cfgerr.Path(errs[0]); !ok || !strings.Contains(errs[0].Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", errs[0], tc.want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	var c Config
	c.SetDefaults()
	if c.Enabled() || !*c.LogQueries || !*c.LogResponses || c.QueueSize != 10000 || c.Timeout != 2*time.Second {
		t.Errorf("defaults: %+v", c)
	}
	no := false
	c = Config{LogQueries: &no}
	c.SetDefaults()
	if *c.LogQueries {
		t.Error("an explicit log_queries: false was overridden")
	}
}

func TestNewRejectsBadSocket(t *testing.T) {
	if _, err := New(Config{Socket: "ftp:x"}, "v", nil, nil); err == nil || !strings.Contains(err.Error(), "dnstap") {
		t.Errorf("New = %v, want an error naming dnstap", err)
	}
}

func TestDefaultIdentityAndVersion(t *testing.T) {
	tap, err := newTap(Config{Socket: "unix:/nonexistent/s"}, "1.2.3", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(tap.identity) == 0 || string(tap.version) != "bulwark 1.2.3" {
		t.Errorf("identity %q version %q, want the host name and \"bulwark 1.2.3\"", tap.identity, tap.version)
	}
}
