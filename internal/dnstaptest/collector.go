// Package dnstaptest is a dnstap collector for tests, built from the
// dnstap library's own Frame Streams input (as fstrm_capture is), so that
// Bulwark's dnstap output is read by a real reader.
package dnstaptest

import (
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	dnstappb "github.com/dnstap/golang-dnstap"
	"google.golang.org/protobuf/proto"
)

// Collector listens on a unix socket or loopback TCP and queues every
// frame it receives. It can be stopped and started again at the same
// address, as a restarted collector daemon would be.
type Collector struct {
	// Frames receives each frame as it arrives.
	Frames chan []byte
	// Stall makes sessions complete the handshake but never read a frame
	// (a stuck collector); set it before Start.
	Stall bool

	t       testing.TB
	network string
	addr    string

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
	wg    sync.WaitGroup
}

// SocketDir returns a new short directory for unix sockets, removed when
// the test ends: t.TempDir() paths can exceed the 107 bytes of a unix
// socket path.
func SocketDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tap")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// New returns a collector for network "unix" or "tcp" (127.0.0.1, a free
// port), not yet listening; it is stopped when the test ends.
func New(t testing.TB, network string) *Collector {
	t.Helper()
	c := &Collector{t: t, network: network, Frames: make(chan []byte, 1<<16)}
	switch network {
	case "unix":
		c.addr = filepath.Join(SocketDir(t), "dnstap.sock")
	case "tcp":
		c.addr = "127.0.0.1:0"
	default:
		t.Fatalf("dnstaptest: network %q is not unix or tcp", network)
	}
	t.Cleanup(c.Stop)
	return c
}

// Socket is the dnstap.socket config value that reaches c.
func (c *Collector) Socket() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.network + ":" + c.addr
}

// Start listens and accepts sessions until Stop.
func (c *Collector) Start() *Collector {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	ln, err := net.Listen(c.network, c.addr)
	if err != nil {
		c.t.Fatal(err)
	}
	c.ln = ln
	c.addr = ln.Addr().String() // the port, for tcp:127.0.0.1:0
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
				if err != nil || c.Stall {
					return
				}
				in.ReadInto(c.Frames)
			}()
		}
	}()
	return c
}

// Stop closes the listener and every session, like a collector that died.
func (c *Collector) Stop() {
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

// Next decodes the next frame, failing the test after a generous wait.
func (c *Collector) Next(t testing.TB) *dnstappb.Dnstap {
	t.Helper()
	select {
	case f := <-c.Frames:
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
