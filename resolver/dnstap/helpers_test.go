package dnstap

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	dnstappb "github.com/dnstap/golang-dnstap"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/bulwark-dns/bulwark/resolver"
)

// collector is a dnstap collector built from the library's own Frame
// Streams input, listening on a unix socket or loopback TCP. It can be
// stopped and started again at the same address, as a restarted collector
// daemon would be.
type collector struct {
	t       testing.TB
	network string
	addr    string
	frames  chan []byte
	// stall completes the handshake but never reads a frame.
	stall bool

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
	wg    sync.WaitGroup
}

// socketDir is short: t.TempDir() paths can exceed the 107 bytes of a unix
// socket path.
func socketDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tap")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func newCollector(t testing.TB, network string) *collector {
	t.Helper()
	c := &collector{t: t, network: network, frames: make(chan []byte, 1<<16)}
	switch network {
	case "unix":
		c.addr = filepath.Join(socketDir(t), "dnstap.sock")
	case "tcp":
		c.addr = "127.0.0.1:0"
	}
	t.Cleanup(c.stop)
	return c
}

// socket is the Config.Socket value that reaches c.
func (c *collector) socket() string {
	return c.network + ":" + c.addr
}

func (c *collector) start() *collector {
	c.t.Helper()
	ln, err := net.Listen(c.network, c.addr)
	if err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	c.ln = ln
	c.addr = ln.Addr().String() // the port, for tcp:127.0.0.1:0
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.mu.Lock()
			c.conns = append(c.conns, conn)
			c.mu.Unlock()
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				in, err := dnstappb.NewFrameStreamInput(conn, true)
				if err != nil || c.stall {
					return
				}
				in.ReadInto(c.frames)
			}()
		}
	}()
	return c
}

// stop closes the listener and every session, like a collector that died.
func (c *collector) stop() {
	c.mu.Lock()
	if c.ln != nil {
		c.ln.Close()
		c.ln = nil
	}
	for _, conn := range c.conns {
		conn.Close()
	}
	c.conns = nil
	c.mu.Unlock()
	c.wg.Wait()
}

// next decodes the next frame, failing after a generous wait.
func (c *collector) next(t *testing.T) *dnstappb.Dnstap {
	t.Helper()
	select {
	case f := <-c.frames:
		var dt dnstappb.Dnstap
		if err := proto.Unmarshal(f, &dt); err != nil {
			t.Fatalf("frame does not decode: %v", err)
		}
		return &dt
	case <-time.After(10 * time.Second):
		t.Fatal("no dnstap frame arrived")
		return nil
	}
}

// startTap starts a Tap on socket with fast reconnects.
func startTap(t *testing.T, cfg Config) (*Tap, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.SetDefaults()
	if errs := cfg.Validate("dnstap"); len(errs) > 0 {
		t.Fatal(errs)
	}
	tap, err := newTap(cfg, "test", NewMetrics(reg), nil)
	if err != nil {
		t.Fatal(err)
	}
	tap.minRetry, tap.maxRetry = 5*time.Millisecond, 50*time.Millisecond
	go tap.run()
	t.Cleanup(tap.Close)
	return tap, reg
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if mf.GetType() == dto.MetricType_GAUGE {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// event builds a QueryEvent with real wire messages for name.
func event(t testing.TB, name string, client string, p resolver.Proto, answered bool) resolver.QueryEvent {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	qb, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	ev := resolver.QueryEvent{
		Received: time.Now(), Duration: 1500 * time.Microsecond,
		Client: netip.MustParseAddrPort(client), Proto: p,
		Query: qb, QName: name, QType: dns.TypeA, Rcode: -1,
	}
	if answered {
		r := new(dns.Msg)
		r.SetRcode(q, dns.RcodeNameError)
		rb, err := r.Pack()
		if err != nil {
			t.Fatal(err)
		}
		ev.Response, ev.Rcode = rb, dns.RcodeNameError
	}
	return ev
}
