// Package logsink delivers the block log and the query log to where
// operators look: a SIEM's syslog input (RFC 5424 over UDP, TCP or TLS) or
// a collector that takes JSON over HTTP (Splunk HEC, Elasticsearch bulk,
// Loki push, Vector or anything that reads NDJSON).
//
// A sink takes the log's JSON lines as the log writer produces them and
// never blocks it: lines wait in a bounded queue while the destination is
// slow or down, and past that they are dropped and counted
// (bulwark_log_sink_dropped_total), so a dead SIEM never slows an answer.
// See docs/ARCHITECTURE.md, "Logs".
package logsink

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bulwark-dns/bulwark/internal/cfgerr"
	"github.com/bulwark-dns/bulwark/internal/secretref"
	"github.com/bulwark-dns/bulwark/internal/yamlx"
)

// Config is one destination of a log: an entry of `log.sinks`, or the URL
// given directly as `log.blocked` / `log.queries` with every option at its
// default.
type Config struct {
	// Name labels the sink's metrics; default: the URL's host.
	Name string `yaml:"name"`
	// Log is which log the sink receives: "blocked" (default) or
	// "queries". Only in `log.sinks`.
	Log string `yaml:"log"`
	// URL is the destination: syslog+udp://, syslog+tcp://, syslog+tls://
	// (default ports 514, 514, 6514), http:// or https://.
	URL string `yaml:"url"`
	// Queue is how many records wait while the destination is slow or
	// down; default 10000 (about ten seconds of blocks at a busy
	// national resolver's rate, a few MB).
	Queue int `yaml:"queue"`
	// TLS configures syslog+tls:// and https:// connections.
	TLS TLSConfig `yaml:"tls"`
	// Syslog shapes RFC 5424 messages.
	Syslog SyslogConfig `yaml:"syslog"`
	// HTTP shapes HTTP batches.
	HTTP HTTPConfig `yaml:"http"`
}

// TLSConfig is a sink's TLS client configuration.
type TLSConfig struct {
	// CAFile verifies the server (PEM); default: the system's roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a client certificate, for collectors that
	// authenticate senders (RFC 5425 §5.3).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is the name the server's certificate must carry;
	// default: the URL's host.
	ServerName string `yaml:"server_name"`
}

// SyslogConfig shapes RFC 5424 messages.
type SyslogConfig struct {
	// Facility is a facility name (default local0).
	Facility string `yaml:"facility"`
	// AppName is APP-NAME (default "bulwark").
	AppName string `yaml:"app_name"`
	// Hostname is HOSTNAME (default: the host's name).
	Hostname string `yaml:"hostname"`
	// SDID is the structured-data element's ID (default "bulwark@32473").
	// 32473 is the enterprise number RFC 5612 reserves for documentation;
	// an operator with its own number sets it here.
	SDID string `yaml:"sd_id"`
}

// HTTPConfig shapes HTTP batches.
type HTTPConfig struct {
	// Format is the body: "ndjson" (default: Vector, Logstash, Fluent Bit),
	// "splunk_hec", "elasticsearch" (the _bulk API) or "loki" (push API).
	Format string `yaml:"format"`
	// Index is the Elasticsearch index, or the Splunk HEC index; optional.
	Index string `yaml:"index"`
	// Headers are sent with every request, e.g. an API key. Values may
	// read "${ENV}" or "file:PATH", as feed headers do.
	Headers map[string]string `yaml:"headers"`
	// BatchRecords and BatchBytes flush a batch once reached (defaults 500
	// and 1 MiB); BatchDelay flushes a partial batch (default 1s).
	BatchRecords int           `yaml:"batch_records"`
	BatchBytes   int           `yaml:"batch_bytes"`
	BatchDelay   time.Duration `yaml:"batch_delay"`
	// Gzip compresses bodies (default true).
	Gzip *bool `yaml:"gzip"`
	// Timeout bounds one request (default 10s).
	Timeout time.Duration `yaml:"timeout"`
}

// Defaults.
const (
	defaultQueue        = 10000
	defaultBatchRecords = 500
	defaultBatchBytes   = 1 << 20
	defaultBatchDelay   = time.Second
	defaultHTTPTimeout  = 10 * time.Second
	defaultSDID         = "bulwark@32473"
	maxQueue            = 1 << 20
)

// Kinds of destination.
const (
	kindSyslogUDP = "syslog+udp"
	kindSyslogTCP = "syslog+tcp"
	kindSyslogTLS = "syslog+tls"
	kindHTTP      = "http"
	kindHTTPS     = "https"
)

// IsURL reports whether a log destination names a sink rather than a file,
// so that `log.blocked: syslog+tls://siem:6514` is a sink and
// `log.blocked: /var/log/bulwark/blocked.log` a file.
func IsURL(dest string) bool {
	scheme, _, ok := strings.Cut(dest, "://")
	if !ok {
		return false
	}
	switch scheme {
	case kindSyslogUDP, kindSyslogTCP, kindSyslogTLS, kindHTTP, kindHTTPS:
		return true
	}
	return false
}

// SetDefaults fills in unset values.
func (c *Config) SetDefaults() {
	if c.Name == "" {
		if u, err := url.Parse(c.URL); err == nil {
			c.Name = u.Host
		}
	}
	yamlx.Defaults(c, Config{
		Log:    "blocked",
		Queue:  defaultQueue,
		Syslog: SyslogConfig{Facility: "local0", AppName: "bulwark", SDID: defaultSDID},
		HTTP: HTTPConfig{
			Format:       "ndjson",
			BatchRecords: defaultBatchRecords,
			BatchBytes:   defaultBatchBytes,
			BatchDelay:   defaultBatchDelay,
			Timeout:      defaultHTTPTimeout,
			Gzip:         new(true),
		},
	})
}

// kind returns the URL's scheme.
func (c *Config) kind() string {
	scheme, _, _ := strings.Cut(c.URL, "://")
	return scheme
}

// Validate reports every invalid value; path is the entry's YAML path.
func (c *Config) Validate(path string) []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, key), format, args...))
	}
	switch c.Log {
	case "blocked", "queries":
	default:
		add("log", "%q is not one of blocked, queries", c.Log)
	}
	if c.Queue < 1 || c.Queue > maxQueue {
		add("queue", "%d is outside 1-%d", c.Queue, maxQueue)
	}
	if strings.ContainsAny(c.Name, " \t\n\"") || c.Name == "" && c.URL != "" {
		add("name", "%q must be a non-empty label without spaces or quotes", c.Name)
	}
	if _, err := c.address(); err != nil {
		add("url", "%v", err)
		return errs
	}
	kind := c.kind()
	syslog := strings.HasPrefix(kind, "syslog+")
	if !syslog && !strings.HasPrefix(kind, "http") {
		return errs
	}
	if kind != kindSyslogTLS && kind != kindHTTPS && (c.TLS != TLSConfig{}) {
		add("tls", "is used only with syslog+tls:// and https:// (url is %s://)", kind)
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		add("tls", "cert_file and key_file go together")
	}
	if syslog {
		if _, ok := facilities[c.Syslog.Facility]; !ok {
			add("syslog.facility", "%q is not a syslog facility (kern, user, daemon, auth, local0-local7, ...)", c.Syslog.Facility)
		}
		if !printable(c.Syslog.AppName, 48) {
			add("syslog.app_name", "%q must be 1-48 printable ASCII characters without spaces", c.Syslog.AppName)
		}
		if c.Syslog.Hostname != "" && !printable(c.Syslog.Hostname, 255) {
			add("syslog.hostname", "%q must be 1-255 printable ASCII characters without spaces", c.Syslog.Hostname)
		}
		if !validSDName(c.Syslog.SDID) || !strings.Contains(c.Syslog.SDID, "@") {
			add("syslog.sd_id", "%q is not an SD-ID of the form name@number (RFC 5424 §6.3.2)", c.Syslog.SDID)
		}
		if h := c.HTTP; len(h.Headers) > 0 || h.Index != "" || h.Format != "ndjson" {
			add("http", "is used only with http:// and https:// sinks")
		}
		return errs
	}
	h := c.HTTP
	switch h.Format {
	case "ndjson", "splunk_hec", "elasticsearch", "loki":
	default:
		add("http.format", "%q is not one of ndjson, splunk_hec, elasticsearch, loki", h.Format)
	}
	if h.BatchRecords < 1 || h.BatchRecords > 100000 {
		add("http.batch_records", "%d is outside 1-100000", h.BatchRecords)
	}
	if h.BatchBytes < 1024 || h.BatchBytes > 64<<20 {
		add("http.batch_bytes", "%d is outside 1 KiB-64 MiB", h.BatchBytes)
	}
	if h.BatchDelay < 10*time.Millisecond || h.BatchDelay > time.Minute {
		add("http.batch_delay", "%s is outside 10ms-1m", h.BatchDelay)
	}
	if h.Timeout < 100*time.Millisecond || h.Timeout > 5*time.Minute {
		add("http.timeout", "%s is outside 100ms-5m", h.Timeout)
	}
	for k, v := range h.Headers {
		if err := secretref.Check(v); err != nil {
			add(cfgerr.Join("http.headers", k), "%v", err)
		}
	}
	return errs
}

// address returns the host:port to dial, with the scheme's default port.
func (c *Config) address() (string, error) {
	u, err := url.Parse(c.URL)
	if err != nil {
		return "", fmt.Errorf("%q does not parse: %v", c.URL, err)
	}
	var port string
	switch u.Scheme {
	case kindSyslogUDP, kindSyslogTCP:
		port = "514"
	case kindSyslogTLS:
		port = "6514"
	case kindHTTP:
		port = "80"
	case kindHTTPS:
		port = "443"
	default:
		return "", fmt.Errorf("%q: the scheme must be syslog+udp, syslog+tcp, syslog+tls, http or https", c.URL)
	}
	if u.Hostname() == "" {
		return "", fmt.Errorf("%q names no host", c.URL)
	}
	if u.User != nil && strings.HasPrefix(u.Scheme, "syslog") {
		return "", fmt.Errorf("%q: syslog URLs carry no credentials", c.URL)
	}
	if strings.HasPrefix(u.Scheme, "syslog") && (u.Path != "" && u.Path != "/" || u.RawQuery != "") {
		return "", fmt.Errorf("%q: a syslog URL is scheme://host[:port] only", c.URL)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%q: port %q is not 1-65535", c.URL, p)
		}
		port = p
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

// facilities are RFC 5424 §6.2.1's facility codes by their usual names.
var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "security": 13, "console": 14,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// printable reports whether s is 1-max PRINTUSASCII characters (33-126),
// as RFC 5424 requires of HOSTNAME and APP-NAME.
func printable(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return false
		}
	}
	return true
}

// validSDName reports whether s may be an SD-ID or PARAM-NAME: 1-32
// PRINTUSASCII characters except '=', ' ', ']' and '"'.
func validSDName(s string) bool {
	if !printable(s, 32) {
		return false
	}
	return !strings.ContainsAny(s, `=]"`)
}
