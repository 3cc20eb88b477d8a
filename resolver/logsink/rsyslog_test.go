package logsink

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/internal/wait"
)

// rsyslog is a real rsyslogd (Debian's rsyslog and rsyslog-gnutls, which
// `make deps` installs) listening on loopback with a plain TCP, a TLS and a
// UDP input, writing every message it parsed as RFC 5424 to one file, a
// line of its parsed properties each.
type rsyslog struct {
	t              *testing.T
	dir, conf, out string
	tcp, tls, udp  int
	caFile         string
	cmd            *exec.Cmd
	exited         chan struct{}
}

func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startRsyslog(t *testing.T) *rsyslog {
	t.Helper()
	bin, err := exec.LookPath("rsyslogd")
	if err != nil {
		bin = "/usr/sbin/rsyslogd"
		if _, err := os.Stat(bin); err != nil {
			t.Skip("SKIPPING the rsyslog tests: rsyslogd is not installed (make deps installs Debian's rsyslog and rsyslog-gnutls)")
		}
	}
	if _, err := os.Stat("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so"); err != nil {
		if m, _ := filepath.Glob("/usr/lib/*/rsyslog/lmnsd_gtls.so"); len(m) == 0 {
			t.Skip("SKIPPING the rsyslog tests: rsyslog's TLS driver is not installed (Debian package rsyslog-gnutls; make deps installs it)")
		}
	}
	dir := t.TempDir()
	ca := dnstest.NewCA(t)
	certFile, keyFile := dnstest.WriteFiles(t, dir, ca.Issue(t, "siem.test", "127.0.0.1"))
	r := &rsyslog{t: t, dir: dir, conf: filepath.Join(dir, "rsyslog.conf"), out: filepath.Join(dir, "out.log"),
		tcp: freePort(t, "tcp"), tls: freePort(t, "tcp"), udp: freePort(t, "udp"), caFile: ca.File(t)}
	conf := fmt.Sprintf(`global(workDirectory=%q DefaultNetstreamDriverCAFile=%q DefaultNetstreamDriverCertFile=%q DefaultNetstreamDriverKeyFile=%q)
module(load="imtcp" MaxSessions="100")
input(type="imtcp" address="127.0.0.1" port="%d" name="tcp")
input(type="imtcp" address="127.0.0.1" port="%d" name="tls" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="%d" name="udp")
template(name="fields" type="string" string="%%inputname%%|%%pri%%|%%timereported:::date-rfc3339%%|%%hostname%%|%%app-name%%|%%procid%%|%%msgid%%|%%structured-data%%|%%msg%%\n")
*.* action(type="omfile" file=%q template="fields" flushOnTXEnd="on" asyncWriting="off")
`, dir, r.caFile, certFile, keyFile, r.tcp, r.tls, r.udp, r.out)
	if err := os.WriteFile(r.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	r.start(bin)
	t.Cleanup(r.kill)
	return r
}

func (r *rsyslog) start(bin string) {
	r.t.Helper()
	r.cmd = exec.Command(bin, "-n", "-f", r.conf, "-i", filepath.Join(r.dir, "pid"))
	stderr, err := os.OpenFile(filepath.Join(r.dir, "stderr"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		r.t.Fatal(err)
	}
	r.cmd.Stderr = stderr
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.exited = make(chan struct{})
	go func() { r.cmd.Wait(); stderr.Close(); close(r.exited) }()
	wait.For(r.t, "rsyslogd listens", func() bool {
		// The plain port only: a bare connection to the TLS one makes
		// rsyslog log a failed handshake.
		for _, p := range []int{r.tcp} {
			c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				return false
			}
			c.Close()
		}
		return true
	})
}

// kill stops rsyslogd at once, as a crash would.
func (r *rsyslog) kill() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.exited
	r.cmd = nil
}

// received is one message as rsyslog parsed it.
type received struct {
	input, pri, time, host, app, procID, msgID string
	params                                     map[string]string
	msg                                        string
}

// messages returns what rsyslog has written so far.
func (r *rsyslog) messages() []received {
	f, err := os.Open(r.out)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []received
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), "|", 9)
		if len(parts) != 9 {
			r.t.Fatalf("rsyslog wrote %q", sc.Text())
		}
		out = append(out, received{parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], parts[6], parseSD(r.t, parts[7]), parts[8]})
	}
	return out
}

// parseSD parses one RFC 5424 SD-ELEMENT's parameters.
func parseSD(t *testing.T, sd string) map[string]string {
	params := map[string]string{}
	if sd == "-" {
		return params
	}
	s := strings.TrimPrefix(sd, "[")
	if i := strings.IndexByte(s, ' '); i >= 0 {
		params["@id"] = s[:i]
		s = s[i+1:]
	}
	for len(s) > 0 && s != "]" {
		eq := strings.Index(s, `="`)
		if eq < 0 {
			t.Fatalf("structured data %q does not parse", sd)
		}
		name := s[:eq]
		s = s[eq+2:]
		var v strings.Builder
		for i := 0; i < len(s); i++ {
			if s[i] == '\\' && i+1 < len(s) {
				v.WriteByte(s[i+1])
				i++
				continue
			}
			if s[i] == '"' {
				s = strings.TrimPrefix(s[i+1:], " ")
				break
			}
			v.WriteByte(s[i])
		}
		params[name] = v.String()
	}
	return params
}

// checkReceived compares what rsyslog parsed with the records sent, field
// by field: every JSON member is a structured-data parameter with the same
// value, the MSG is the record, and nothing arrives twice.
func checkReceived(t *testing.T, got []received, input string, sent [][]byte) {
	t.Helper()
	byQName := map[string]received{}
	for _, m := range got {
		if m.input != input {
			continue
		}
		q := m.params["qname"]
		if _, dup := byQName[q]; dup {
			t.Errorf("%s: %s arrived twice", input, q)
		}
		byQName[q] = m
	}
	for _, line := range sent {
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatal(err)
		}
		m, ok := byQName[rec["qname"].(string)]
		if !ok {
			t.Errorf("%s: %s never arrived", input, rec["qname"])
			continue
		}
		if m.msg != string(line) {
			t.Errorf("%s: MSG %q, want the record %q", input, m.msg, line)
		}
		if m.pri != "133" || m.app != "bulwark" || m.msgID != "block" || m.params["@id"] != "bulwark@32473" || m.procID != strconv.Itoa(os.Getpid()) {
			t.Errorf("%s: header pri=%s app=%s msgid=%s sd-id=%s procid=%s", input, m.pri, m.app, m.msgID, m.params["@id"], m.procID)
		}
		if want, _ := time.Parse(time.RFC3339Nano, rec["time"].(string)); m.time != want.Format("2006-01-02T15:04:05.000000Z07:00") {
			t.Errorf("%s: TIMESTAMP %s, want the record's %s", input, m.time, rec["time"])
		}
		for k, v := range rec {
			if m.params[k] != v.(string) {
				t.Errorf("%s: parameter %s = %q, want %q", input, k, m.params[k], v)
			}
		}
	}
}

// TestRsyslog sends the block log to a real rsyslog over TCP, TLS and UDP
// and reads back what rsyslog parsed.
func TestRsyslog(t *testing.T) {
	r := startRsyslog(t)
	kinds := []struct {
		input string
		cfg   Config
	}{
		{"tcp", Config{URL: fmt.Sprintf("syslog+tcp://127.0.0.1:%d", r.tcp)}},
		{"tls", Config{URL: fmt.Sprintf("syslog+tls://127.0.0.1:%d", r.tls), TLS: TLSConfig{CAFile: r.caFile, ServerName: "siem.test"}}},
		{"udp", Config{URL: fmt.Sprintf("syslog+udp://127.0.0.1:%d", r.udp)}},
	}
	sent := map[string][][]byte{}
	for _, k := range kinds {
		s, _ := startSink(t, k.cfg)
		sent[k.input] = records(k.input, 50)
		writeAll(s, sent[k.input])
	}
	wait.For(t, "rsyslog has every message", func() bool { return len(r.messages()) >= 150 })
	got := r.messages()
	for _, k := range kinds {
		checkReceived(t, got, k.input, sent[k.input])
	}
}

// TestRsyslogRestart kills rsyslog mid-stream and starts it again: the
// sink notices, queues, reconnects, and delivers everything queued; every
// record either arrives or is counted as dropped.
func TestRsyslogRestart(t *testing.T) {
	r := startRsyslog(t)
	for _, k := range []struct {
		input, url string
		tls        TLSConfig
	}{
		{"tcp", fmt.Sprintf("syslog+tcp://127.0.0.1:%d", r.tcp), TLSConfig{}},
		{"tls", fmt.Sprintf("syslog+tls://127.0.0.1:%d", r.tls), TLSConfig{CAFile: r.caFile, ServerName: "siem.test"}},
	} {
		t.Run(k.input, func(t *testing.T) {
			if r.cmd == nil {
				r.start("rsyslogd")
			}
			s, reg := startSink(t, Config{URL: k.url, TLS: k.tls})
			name := s.Name()
			count := func() int {
				n := 0
				for _, m := range r.messages() {
					if m.input == k.input {
						n++
					}
				}
				return n
			}
			before := records("before", 100)
			writeAll(s, before)
			wait.For(t, "the first batch arrived", func() bool { return count() == len(before) })

			r.kill()
			wait.For(t, "the sink saw the receiver go", func() bool { return metric(t, reg, "bulwark_log_sink_up", "sink", name) == 0 })
			during := records("during", 100)
			writeAll(s, during)

			r.start("rsyslogd")
			after := records("after", 100)
			writeAll(s, after)
			want := len(before) + len(during) + len(after)
			wait.For(t, "the queued records arrived after the restart", func() bool {
				dropped := metric(t, reg, "bulwark_log_sink_dropped_total", "sink", name)
				return count()+int(dropped) >= want
			})
			if d := metric(t, reg, "bulwark_log_sink_dropped_total", "sink", name); d != 0 {
				t.Errorf("%v records dropped with a queue of 10000", d)
			}
			if metric(t, reg, "bulwark_log_sink_retries_total", "sink", name) == 0 {
				t.Error("no reconnection counted")
			}
			got := r.messages()
			checkReceived(t, got, k.input, before)
			checkReceived(t, got, k.input, during)
			checkReceived(t, got, k.input, after)
			if sentN := metric(t, reg, "bulwark_log_sink_sent_total", "sink", name); int(sentN) != want {
				t.Errorf("sent_total %v, want %d", sentN, want)
			}
		})
	}
}
