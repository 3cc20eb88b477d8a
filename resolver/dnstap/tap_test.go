package dnstap

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/internal/dnstaptest"
	"github.com/bulwark-dns/bulwark/internal/wait"
	contract "github.com/bulwark-dns/bulwark/resolver/query"

	dnstappb "github.com/dnstap/golang-dnstap"
	"github.com/miekg/dns"
)

// TestTapFrames sends one answered query per transport and address family
// and decodes what the collector receives.
func TestTapFrames(t *testing.T) {
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			col := dnstaptest.New(t, network).Start()
			tap, reg := startTap(t, Config{Socket: col.Socket(), Identity: "resolver-7", Version: "v9"})
			cases := []struct {
				client string
				proto  contract.Proto
				wantP  dnstappb.SocketProtocol
				wantF  dnstappb.SocketFamily
			}{
				{"192.0.2.10:40000", contract.ProtoUDP, dnstappb.SocketProtocol_UDP, dnstappb.SocketFamily_INET},
				{"[2001:db8::5]:40001", contract.ProtoTCP, dnstappb.SocketProtocol_TCP, dnstappb.SocketFamily_INET6},
				{"198.51.100.1:853", contract.ProtoDoT, dnstappb.SocketProtocol_DOT, dnstappb.SocketFamily_INET},
				{"[2001:db8::6]:443", contract.ProtoDoH, dnstappb.SocketProtocol_DOH, dnstappb.SocketFamily_INET6},
			}
			for i, c := range cases {
				tap.Observe(event(t, fmt.Sprintf("q%d.example.", i), c.client, c.proto, true))
			}
			for i, c := range cases {
				name := fmt.Sprintf("q%d.example.", i)
				q, r := col.Next(t), col.Next(t)
				for _, f := range []*dnstappb.Dnstap{q, r} {
					if f.GetType() != dnstappb.Dnstap_MESSAGE || string(f.GetIdentity()) != "resolver-7" || string(f.GetVersion()) != "v9" {
						t.Errorf("%s: frame header type %v identity %q version %q", name, f.GetType(), f.GetIdentity(), f.GetVersion())
					}
					m := f.GetMessage()
					addr, _ := net.ResolveTCPAddr("tcp", c.client)
					if m.GetSocketProtocol() != c.wantP || m.GetSocketFamily() != c.wantF ||
						!net.IP(m.GetQueryAddress()).Equal(addr.IP) || m.GetQueryPort() != uint32(addr.Port) {
						t.Errorf("%s %v: %v %v %v:%d, want %v %v %s", name, m.GetType(), m.GetSocketProtocol(), m.GetSocketFamily(),
							net.IP(m.GetQueryAddress()), m.GetQueryPort(), c.wantP, c.wantF, c.client)
					}
					if want := 4; c.wantF == dnstappb.SocketFamily_INET6 {
						want = 16
						if len(m.GetQueryAddress()) != want {
							t.Errorf("%s: address of %d bytes, want %d", name, len(m.GetQueryAddress()), want)
						}
					} else if len(m.GetQueryAddress()) != want {
						t.Errorf("%s: address of %d bytes, want %d", name, len(m.GetQueryAddress()), want)
					}
				}
				qm, rm := q.GetMessage(), r.GetMessage()
				if qm.GetType() != dnstappb.Message_CLIENT_QUERY || rm.GetType() != dnstappb.Message_CLIENT_RESPONSE {
					t.Fatalf("%s: types %v then %v", name, qm.GetType(), rm.GetType())
				}
				var dq, dr dns.Msg
				if err := dq.Unpack(qm.GetQueryMessage()); err != nil || dq.Question[0].Name != name {
					t.Errorf("query message: %v (%v), want %s", dq.Question, err, name)
				}
				if err := dr.Unpack(rm.GetResponseMessage()); err != nil || dr.Rcode != dns.RcodeNameError || dr.Question[0].Name != name {
					t.Errorf("response message: rcode %d %v (%v)", dr.Rcode, dr.Question, err)
				}
				if qm.GetResponseMessage() != nil || rm.GetQueryMessage() != nil || qm.ResponseTimeSec != nil {
					t.Errorf("%s: query frame carries response fields or response frame the query", name)
				}
				qt := time.Unix(int64(qm.GetQueryTimeSec()), int64(qm.GetQueryTimeNsec()))
				rt := time.Unix(int64(rm.GetResponseTimeSec()), int64(rm.GetResponseTimeNsec()))
				if rt.Sub(qt) != 1500*time.Microsecond {
					t.Errorf("%s: response %v after the query, want 1.5ms", name, rt.Sub(qt))
				}
			}
			tap.Close()
			if sent, dropped := counter(t, reg, "bulwark_dnstap_sent_total"), counter(t, reg, "bulwark_dnstap_dropped_total"); sent != 8 || dropped != 0 {
				t.Errorf("sent %v dropped %v, want 8 and 0", sent, dropped)
			}
		})
	}
}

// TestTapMessageTypes: log_queries / log_responses choose the frames; a
// query answered with silence has no response frame.
func TestTapMessageTypes(t *testing.T) {
	no := false
	for _, tc := range []struct {
		name     string
		cfg      Config
		answered bool
		want     []dnstappb.Message_Type
	}{
		{"both", Config{}, true, []dnstappb.Message_Type{dnstappb.Message_CLIENT_QUERY, dnstappb.Message_CLIENT_RESPONSE}},
		{"queries only", Config{LogResponses: &no}, true, []dnstappb.Message_Type{dnstappb.Message_CLIENT_QUERY}},
		{"responses only", Config{LogQueries: &no}, true, []dnstappb.Message_Type{dnstappb.Message_CLIENT_RESPONSE}},
		{"dropped query", Config{}, false, []dnstappb.Message_Type{dnstappb.Message_CLIENT_QUERY}},
		{"dropped query, responses only", Config{LogQueries: &no}, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			col := dnstaptest.New(t, "unix").Start()
			tc.cfg.Socket = col.Socket()
			tap, reg := startTap(t, tc.cfg)
			tap.Observe(event(t, "a.example.", "10.0.0.1:1000", contract.ProtoUDP, tc.answered))
			// A marker behind it: once it arrives, everything before it has.
			tap.Observe(event(t, "marker.example.", "10.0.0.1:1000", contract.ProtoUDP, true))
			var got []dnstappb.Message_Type
			for {
				f := col.Next(t)
				m := f.GetMessage()
				var msg dns.Msg
				b := m.GetQueryMessage()
				if b == nil {
					b = m.GetResponseMessage()
				}
				if err := msg.Unpack(b); err != nil {
					t.Fatal(err)
				}
				if msg.Question[0].Name == "marker.example." {
					break
				}
				got = append(got, m.GetType())
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("frames %v, want %v", got, tc.want)
			}
			if d := counter(t, reg, "bulwark_dnstap_dropped_total"); d != 0 {
				t.Errorf("dropped %v", d)
			}
		})
	}
}

// TestTapCollectorDownAndBack: with no collector Bulwark keeps going and
// counts the frames it drops; when the collector comes up the frames flow;
// when it dies and comes back, they flow again.
func TestTapCollectorDownAndBack(t *testing.T) {
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			col := dnstaptest.New(t, network)
			if network == "tcp" {
				// Reserve a free port, then free it: nothing listens there yet.
				col.Start().Stop()
			}
			tap, reg := startTap(t, Config{Socket: col.Socket()})
			ev := event(t, "a.example.", "10.0.0.1:1000", contract.ProtoUDP, true)

			// Down: every frame is dropped, none is waited for.
			for i := 0; i < 100; i++ {
				tap.Observe(ev)
			}
			wait.For(t, "drops counted while the collector is down", func() bool {
				return counter(t, reg, "bulwark_dnstap_dropped_total") == 200
			})
			if c := counter(t, reg, "bulwark_dnstap_connected"); c != 0 {
				t.Errorf("connected = %v with no collector", c)
			}

			// Up: after a reconnect, frames arrive.
			col.Start()
			deliver(t, tap, col, ev)
			if c := counter(t, reg, "bulwark_dnstap_connected"); c != 1 {
				t.Errorf("connected = %v after reconnecting", c)
			}

			// The collector dies and comes back: frames flow again.
			col.Stop()
			drain(col)
			col.Start()
			deliver(t, tap, col, ev)
		})
	}
}

// deliver observes ev until one of its frames reaches col (bounded).
func deliver(t *testing.T, tap *Tap, col *dnstaptest.Collector, ev contract.Event) {
	t.Helper()
	for i := 0; i < 400; i++ {
		tap.Observe(ev)
		select {
		case <-col.Frames:
			return
		case <-time.After(25 * time.Millisecond):
		}
	}
	t.Fatal("no frame reached the collector after it came up")
}

func drain(col *dnstaptest.Collector) {
	for {
		select {
		case <-col.Frames:
		default:
			return
		}
	}
}

// TestTapStalledCollector: a collector that stops reading fills the socket
// and the queue; Observe still never blocks, the overflow is counted, every
// frame is either sent or counted as dropped, and Close returns.
func TestTapStalledCollector(t *testing.T) {
	col := dnstaptest.New(t, "unix")
	col.Stall = true
	col.Start()
	tap, reg := startTap(t, Config{Socket: col.Socket(), QueueSize: 16, Timeout: 200 * time.Millisecond})
	ev := event(t, strings.Repeat("x", 60)+".example.", "10.0.0.1:1000", contract.ProtoUDP, true)
	const n = 20000
	for i := 0; i < n; i++ {
		tap.Observe(ev)
	}
	tap.Close()
	sent, dropped := counter(t, reg, "bulwark_dnstap_sent_total"), counter(t, reg, "bulwark_dnstap_dropped_total")
	if dropped == 0 {
		t.Errorf("nothing dropped with a stalled collector (sent %v)", sent)
	}
	t.Logf("sent %v, dropped %v", sent, dropped)
	if sent+dropped != 2*n {
		t.Errorf("sent %v + dropped %v != %d frames observed", sent, dropped, 2*n)
	}
}

// TestTapCloseWhileDown returns at once when there is no collector.
func TestTapCloseWhileDown(t *testing.T) {
	tap, reg := startTap(t, Config{Socket: "unix:" + filepath.Join(dnstaptest.SocketDir(t), "nobody")})
	tap.Observe(event(t, "a.example.", "10.0.0.1:1000", contract.ProtoUDP, true))
	tap.Close()
	tap.Close() // twice is fine
	tap.Observe(event(t, "b.example.", "10.0.0.1:1000", contract.ProtoUDP, true))
	if d := counter(t, reg, "bulwark_dnstap_dropped_total"); d != 4 {
		t.Errorf("dropped %v, want 4", d)
	}
}

// TestDnstapRead writes what the collector received to a dnstap file with
// the library's file output and reads it with BIND's dnstap-read, the tool
// operators use: the queries must show up.
func TestDnstapRead(t *testing.T) {
	bin := needDnstapRead(t)
	col := dnstaptest.New(t, "unix").Start()
	tap, _ := startTap(t, Config{Socket: col.Socket(), Identity: "bulwark-test"})
	tap.Observe(event(t, "phish.example.", "192.0.2.44:5353", contract.ProtoUDP, true))
	tap.Observe(event(t, "tcp.example.", "[2001:db8::9]:4444", contract.ProtoTCP, true))
	tap.Observe(event(t, "dot.example.", "192.0.2.45:853", contract.ProtoDoT, false))
	tap.Observe(event(t, "doh.example.", "192.0.2.46:443", contract.ProtoDoH, false))
	text := dnstapRead(t, bin, col, 6)
	for _, want := range []string{
		"type: MESSAGE", "identity: bulwark-test",
		"type: CLIENT_QUERY", "type: CLIENT_RESPONSE",
		"socket_family: INET", "socket_family: INET6",
		// BIND 9.18's dnstap-read predates DOT and DOH in dnstap.proto and
		// prints them as UDP; TestTapFrames checks those values.
		"socket_protocol: UDP", "socket_protocol: TCP",
		`query_address: "192.0.2.44"`, "query_port: 5353", `query_address: "2001:db8::9"`,
		"phish.example", "tcp.example", "dot.example", "doh.example", "NXDOMAIN",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("dnstap-read output lacks %q:\n%s", want, text)
		}
	}
}

// needDnstapRead returns BIND's dnstap-read, which make deps installs.
func needDnstapRead(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("dnstap-read")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("dnstap-read not found; install bind9-dnsutils (make deps)")
		}
		t.Skip("dnstap-read not installed (Debian: bind9-dnsutils)")
	}
	return bin
}

// dnstapRead writes the next n frames col receives to a dnstap file with
// the library's file output and returns what `dnstap-read -y` prints of
// it, failing when dnstap-read cannot parse it.
func dnstapRead(t *testing.T, bin string, col *dnstaptest.Collector, n int) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "capture.dnstap")
	out, err := dnstappb.NewFrameStreamOutputFromFilename(file)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { out.RunOutputLoop(); close(done) }()
	for i := 0; i < n; i++ {
		select {
		case f := <-col.Frames:
			out.GetOutputChannel() <- f
		case <-time.After(10 * time.Second):
			t.Fatal("no frame")
		}
	}
	out.Close()
	<-done

	cmd := exec.Command(bin, "-y", file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	yaml, err := cmd.Output()
	if err != nil {
		t.Fatalf("dnstap-read -y: %v\n%s", err, stderr.String())
	}
	return string(yaml)
}
