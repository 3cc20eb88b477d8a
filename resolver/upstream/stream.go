package upstream

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Stream transports (tcp://, tls://) keep connections open and pipeline
// queries on them (RFC 7766 section 6.2.1, RFC 7858 section 3.4): one TLS
// handshake serves thousands of queries, and answers may come back in any
// order, matched by message ID.
const (
	// streamIdleTimeout closes a connection with nothing in flight for
	// this long; servers close idle ones too (often after 10-30s), and a
	// query racing that close is sent again on a new connection.
	streamIdleTimeout = 20 * time.Second
	// maxStreamConns bounds connections per upstream; another is opened
	// only when every open one has maxPipeline queries in flight.
	maxStreamConns = 4
	maxPipeline    = 128
	// maxStreamAttempts bounds sends of one query when connections close
	// under it (a server's idle close, a reset).
	maxStreamAttempts = 3
	// streamReadBuf buffers reads, so a reply costs one read syscall
	// rather than two.
	streamReadBuf = 4096
)

// ErrClosed: the Forwarder was closed.
var ErrClosed = errors.New("forwarder closed")

// errRetired closes a connection that is being replaced.
var errRetired = errors.New("connection retired")

// errConnLost: the connection closed before the query's reply came, for
// whatever reason (the server's idle timeout, a reset); the query is sent
// again on another. Never a timeout, whatever closed the connection.
var errConnLost = errors.New("connection closed")

// streamPool is one upstream's open connections.
type streamPool struct {
	dial func(ctx context.Context) (net.Conn, error)
	base context.Context // cancelled when the Forwarder closes
	idle time.Duration
	wg   sync.WaitGroup // dials and readers

	mu      sync.Mutex
	conns   []*streamConn
	dialing *dialState // the dial in progress, shared by all who wait
	closed  bool
}

type dialState struct {
	done chan struct{}
	err  error
}

func newStreamPool(base context.Context, dial func(ctx context.Context) (net.Conn, error)) *streamPool {
	return &streamPool{dial: dial, base: base, idle: streamIdleTimeout}
}

// conn returns an open connection with room for another query, dialling
// one when there is none. Concurrent callers share a single dial, so a
// burst of queries to a new upstream makes one handshake, not a burst.
func (p *streamPool) conn(ctx context.Context) (*streamConn, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		var least *streamConn
		leastN, live := 0, 0
		for _, c := range p.conns {
			n, ok := c.load()
			if !ok {
				continue
			}
			if n < maxPipeline {
				p.mu.Unlock()
				return c, nil
			}
			live++
			if least == nil || n < leastN {
				least, leastN = c, n
			}
		}
		ds := p.dialing
		if ds == nil {
			if live >= maxStreamConns {
				p.mu.Unlock()
				return least, nil // all full: share the least loaded
			}
			ds = p.startDial(ctx)
		}
		p.mu.Unlock()
		select {
		case <-ds.done:
			if ds.err != nil {
				return nil, ds.err
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// startDial dials in the background, bounded by ctx's deadline but not
// by its cancellation: the connection outlives the query that asked for
// it. Callers hold p.mu.
func (p *streamPool) startDial(ctx context.Context) *dialState {
	ds := &dialState{done: make(chan struct{})}
	p.dialing = ds
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(DefaultTryTimeout)
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		dctx, cancel := context.WithDeadline(p.base, deadline)
		conn, err := p.dial(dctx)
		cancel()
		p.mu.Lock()
		p.dialing = nil
		if err == nil && p.closed {
			conn.Close()
			err = ErrClosed
		}
		if err == nil {
			c := &streamConn{pool: p, conn: conn, pending: make(map[uint16]chan []byte)}
			p.conns = append(p.conns, c)
			p.wg.Add(1)
			go c.readLoop()
		}
		ds.err = err
		p.mu.Unlock()
		close(ds.done)
	}()
	return ds
}

func (p *streamPool) remove(c *streamConn) {
	p.mu.Lock()
	p.conns = slices.DeleteFunc(p.conns, func(x *streamConn) bool { return x == c })
	p.mu.Unlock()
}

// close closes every connection and waits for dials and readers to end;
// the Forwarder has cancelled base first, so dials end quickly.
func (p *streamPool) close() {
	p.mu.Lock()
	p.closed = true
	conns := slices.Clone(p.conns)
	p.mu.Unlock()
	for _, c := range conns {
		c.close(ErrClosed)
	}
	p.wg.Wait()
}

// streamConn is one connection carrying pipelined queries.
type streamConn struct {
	pool     *streamPool
	conn     net.Conn
	wmu      sync.Mutex   // one message written at a time
	lastRead atomic.Int64 // unix nanoseconds of the last complete reply

	mu      sync.Mutex
	pending map[uint16]chan []byte // by message ID; nil once closed
	retired bool                   // takes no new queries; closed once drained
	closed  bool
	err     error // why it closed
}

// load is the number of queries in flight, and whether c takes more.
func (c *streamConn) load() (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending), !c.closed && !c.retired
}

// roundTrip sends q under an ID unique on c and waits for its reply or
// ctx's end. A timeout on a connection that stayed silent all along
// retires it: it may be dead in a way TCP has not noticed yet.
func (c *streamConn) roundTrip(ctx context.Context, q *query) ([]byte, error) {
	ch := make(chan []byte, 1)
	c.mu.Lock()
	if c.closed || c.retired {
		c.mu.Unlock()
		return nil, c.closeErr()
	}
	id := uint16(rand.Uint32())
	for c.pending[id] != nil {
		id++
	}
	c.pending[id] = ch
	c.mu.Unlock()

	q.setID(id)
	sent := time.Now().UnixNano()
	deadline, _ := ctx.Deadline()
	c.wmu.Lock()
	c.conn.SetWriteDeadline(deadline)
	_, err := c.conn.Write(q.tcp())
	c.wmu.Unlock()
	if err != nil {
		c.close(err) // a partial write leaves the stream unusable
		return nil, err
	}
	select {
	case reply, ok := <-ch:
		if !ok {
			return nil, c.closeErr()
		}
		return reply, nil
	case <-ctx.Done():
		silent := errors.Is(ctx.Err(), context.DeadlineExceeded) && c.lastRead.Load() < sent
		c.forget(id, silent)
		return nil, ctx.Err()
	}
}

// forget drops a query that gave up, optionally retiring c.
func (c *streamConn) forget(id uint16, retire bool) {
	c.mu.Lock()
	delete(c.pending, id)
	c.retired = c.retired || retire
	drained := c.retired && len(c.pending) == 0
	c.mu.Unlock()
	if drained {
		c.close(errRetired)
	}
}

// readLoop delivers replies to the queries waiting for them, until the
// connection fails, is idle for the pool's idle timeout, or is retired
// and drained.
func (c *streamConn) readLoop() {
	defer c.pool.wg.Done()
	r := bufio.NewReaderSize(c.conn, streamReadBuf)
	var hdr [2]byte
	for {
		c.conn.SetReadDeadline(time.Now().Add(c.pool.idle))
		if n, err := io.ReadFull(r, hdr[:]); err != nil {
			if n == 0 && isTimeout(err) && c.busy() {
				continue // queries in flight keep their own time
			}
			c.close(err)
			return
		}
		reply := make([]byte, binary.BigEndian.Uint16(hdr[:]))
		if _, err := io.ReadFull(r, reply); err != nil {
			c.close(err)
			return
		}
		c.lastRead.Store(time.Now().UnixNano())
		if len(reply) < 12 {
			continue // not even a header: nothing to match it to
		}
		id := binary.BigEndian.Uint16(reply)
		c.mu.Lock()
		ch := c.pending[id]
		delete(c.pending, id)
		drained := c.retired && len(c.pending) == 0
		c.mu.Unlock()
		if ch != nil {
			ch <- reply // buffered: never blocks
		}
		if drained {
			c.close(errRetired)
			return
		}
	}
}

func (c *streamConn) busy() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending) > 0
}

// close closes c once, failing every query still waiting on it.
func (c *streamConn) close(err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed, c.err = true, err
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	c.conn.Close()
	for _, ch := range pending {
		close(ch)
	}
	c.pool.remove(c)
}

// closeErr says why c took no query or lost one.
func (c *streamConn) closeErr() error {
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	switch {
	case errors.Is(err, ErrClosed):
		return ErrClosed
	case err == nil || errors.Is(err, errRetired):
		return errConnLost
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%w by the server", errConnLost)
	}
	return fmt.Errorf("%w: %v", errConnLost, err) // %v: an idle timeout is not this query's
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// exchangeStream asks q over a pooled connection. A query whose
// connection closes under it (the server's idle timeout racing our send,
// a reset) is sent again on another, a few times at most.
func (s *server) exchangeStream(ctx context.Context, q *query, deadline time.Time) ([]byte, result, error) {
	start := time.Now()
	proto := s.ep.transport.String()
	if s.ep.transport == transTLS {
		q.pad()
	}
	tctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var err error
	for range maxStreamAttempts {
		var c *streamConn
		if c, err = s.stream.conn(tctx); err != nil {
			break
		}
		var reply []byte
		if reply, err = c.roundTrip(tctx, q); err == nil {
			if !q.matches(reply) {
				return nil, resMismatch, s.errorf(proto, "%w: the reply to our message ID is for another question", ErrMismatch)
			}
			wire, rcode, ok := relay(reply)
			if !ok {
				return nil, resError, s.errorf(proto, "%w", errMalformed)
			}
			return s.classify(wire, rcode, proto)
		}
		if tctx.Err() != nil || isTimeout(err) || errors.Is(err, ErrClosed) {
			break
		}
	}
	if errors.Is(err, ErrClosed) {
		return nil, resCanceled, s.errorf(proto, "%w", err)
	}
	return s.failure(ctx, proto, err, start, deadline, 0)
}
