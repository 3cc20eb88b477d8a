package logsink

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/internal/wait"
)

func TestSyslogFormat(t *testing.T) {
	now := time.Date(2026, 12, 2, 11, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		cfg  Config
		line string
		want string // the message after "<PRI>1 "; HOST and PID replaced
	}{
		{"block record", Config{},
			`{"time":"2026-12-02T10:00:00.123456789Z","client":"198.51.100.7","qname":"evil.example","n":3,"ok":true}`,
			`<133>1 2026-12-02T10:00:00.123456Z HOST bulwark PID block [bulwark@32473 time="2026-12-02T10:00:00.123456789Z" client="198.51.100.7" qname="evil.example" n="3" ok="true"] {"time":"2026-12-02T10:00:00.123456789Z","client":"198.51.100.7","qname":"evil.example","n":3,"ok":true}`},
		{"escaping", Config{},
			`{"rule":"a\"b]c\\d"}`,
			`<133>1 2026-12-02T11:00:00.000000Z HOST bulwark PID block [bulwark@32473 rule="a\"b\]c\\d"] {"rule":"a\"b]c\\d"}`},
		{"query log, facility and names", Config{Log: "queries", Syslog: SyslogConfig{Facility: "daemon", AppName: "pdns", SDID: "dns@99999"}},
			`{"time":"2026-12-02T10:00:00Z","nested":{"a":1}}`,
			`<30>1 2026-12-02T10:00:00.000000Z HOST pdns PID query [dns@99999 time="2026-12-02T10:00:00Z" nested="{\"a\":1}"] {"time":"2026-12-02T10:00:00Z","nested":{"a":1}}`},
		{"a key that cannot be a PARAM-NAME is left out", Config{},
			`{"a b":"x","c":"y"}`,
			`<133>1 2026-12-02T11:00:00.000000Z HOST bulwark PID block [bulwark@32473 c="y"] {"a b":"x","c":"y"}`},
		{"not JSON: MSG only", Config{},
			`garbage`,
			`<133>1 2026-12-02T11:00:00.000000Z HOST bulwark PID block - garbage`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.URL = "syslog+tcp://127.0.0.1"
			cfg.SetDefaults()
			cfg.Syslog.Hostname = "HOST"
			f := newSyslogFormat(&cfg)
			f.procID = "PID"
			got := string(f.append(nil, []byte(tt.line), now))
			if got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestOctetCounting(t *testing.T) {
	msg := []byte("<133>1 - - - - - - é") // 20 characters, 21 octets
	got := string(appendOctetCounted(nil, msg))
	if want := "21 " + string(msg); got != want {
		t.Errorf("got %q, want %q (the length counts octets, not characters)", got, want)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string // "" valid
	}{
		{Config{URL: "syslog+tls://siem.example:6514"}, ""},
		{Config{URL: "syslog+udp://127.0.0.1", Log: "queries"}, ""},
		{Config{URL: "https://splunk.example:8088/services/collector/event", HTTP: HTTPConfig{Format: "splunk_hec", Headers: map[string]string{"Authorization": "Splunk ${HEC_TOKEN}"}}}, ""},
		{Config{URL: "ftp://x"}, "the scheme must be"},
		{Config{URL: "syslog+tcp://"}, "names no host"},
		{Config{URL: "syslog+tcp://h:99999"}, "not 1-65535"},
		{Config{URL: "syslog+tcp://h/path"}, "scheme://host[:port] only"},
		{Config{URL: "syslog+tcp://h", Log: "all"}, `log: "all" is not one of blocked, queries`},
		{Config{URL: "syslog+tcp://h", Queue: -1}, "queue: -1 is outside"},
		{Config{URL: "syslog+tcp://h", TLS: TLSConfig{CAFile: "/ca"}}, "tls: is used only with syslog+tls://"},
		{Config{URL: "syslog+tls://h", TLS: TLSConfig{CertFile: "/c"}}, "cert_file and key_file go together"},
		{Config{URL: "syslog+tcp://h", Syslog: SyslogConfig{Facility: "local9"}}, "not a syslog facility"},
		{Config{URL: "syslog+tcp://h", Syslog: SyslogConfig{SDID: "bulwark"}}, "not an SD-ID"},
		{Config{URL: "syslog+tcp://h", Syslog: SyslogConfig{AppName: "has space"}}, "app_name"},
		{Config{URL: "syslog+tcp://h", HTTP: HTTPConfig{Format: "loki"}}, "http: is used only with http"},
		{Config{URL: "http://h", HTTP: HTTPConfig{Format: "graylog"}}, "http.format"},
		{Config{URL: "http://h", HTTP: HTTPConfig{BatchDelay: time.Hour}}, "http.batch_delay"},
		{Config{URL: "http://h", HTTP: HTTPConfig{Headers: map[string]string{"X": "${open"}}}, "http.headers.X"},
	}
	for _, tt := range tests {
		cfg := tt.cfg
		cfg.SetDefaults()
		errs := cfg.Validate("log.sinks[0]")
		if tt.want == "" {
			if len(errs) > 0 {
				t.Errorf("%s: %v", cfg.URL, errs)
			}
			continue
		}
		found := false
		for _, err := range errs {
			found = found || strings.Contains(err.Error(), tt.want) && strings.HasPrefix(err.Error(), "log.sinks[0].")
		}
		if !found {
			t.Errorf("%s: %v, want %q", cfg.URL, errs, tt.want)
		}
	}
}

func TestIsURL(t *testing.T) {
	for dest, want := range map[string]bool{
		"syslog+tls://siem:6514": true, "https://hec:8088/x": true, "http://v:8080": true,
		"/var/log/bulwark/blocked.log": false, "stdout": false, "off": false, "file://x": false,
	} {
		if got := IsURL(dest); got != want {
			t.Errorf("IsURL(%q) = %v", dest, got)
		}
	}
}

// A receiver that accepts and never reads: Write keeps returning at once,
// the queue overflows into counted drops, and Close is bounded.
func TestStreamSinkStalledReceiver(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	s, reg := startSink(t, Config{URL: "syslog+tcp://" + l.Addr().String(), Queue: 100})
	for i := 0; i < 50; i++ {
		writeAll(s, records(fmt.Sprint("r", i), 200)) // 10,000 records, far more than the socket buffers hold
	}
	wait.For(t, "drops counted", func() bool {
		return metric(t, reg, "bulwark_log_sink_dropped_total", "sink", s.Name(), "reason", "queue_full") > 0
	})
	s.Close()
	sent := metric(t, reg, "bulwark_log_sink_sent_total", "sink", s.Name())
	dropped := metric(t, reg, "bulwark_log_sink_dropped_total", "sink", s.Name())
	if int(sent+dropped) != 10000 {
		t.Errorf("sent %v + dropped %v != 10000 written", sent, dropped)
	}
}

func FuzzSyslogFormat(f *testing.F) {
	f.Add([]byte(`{"time":"2026-12-02T10:00:00Z","qname":"a.example","rule":"x\"]\\"}`))
	f.Add([]byte(`{"a b":1,"":"","nested":{"x":[1,2]}}`))
	f.Add([]byte(`not json`))
	f.Add([]byte(`{"time":"2026-13-45T99:00:00Z"}`))
	cfg := Config{URL: "syslog+tcp://127.0.0.1"}
	cfg.SetDefaults()
	fm := newSyslogFormat(&cfg)
	f.Fuzz(func(t *testing.T, line []byte) {
		msg := fm.append(nil, line, time.Unix(0, 0))
		if !bytes.HasPrefix(msg, []byte("<133>1 ")) || !bytes.HasSuffix(msg, line) {
			t.Fatalf("message %q", msg)
		}
		framed := appendOctetCounted(nil, msg)
		n, rest, _ := strings.Cut(string(framed), " ")
		if n != strconv.Itoa(len(msg)) || rest != string(msg) {
			t.Fatalf("framing %q", framed)
		}
	})
}
