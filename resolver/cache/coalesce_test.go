package cache

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	contract "github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/miekg/dns"
)

// blockingNext answers only once released, and says when it was first entered.
func blockingNext(entered chan<- struct{}, release <-chan struct{}, reply func(context.Context, *contract.Request) (*dns.Msg, error)) *fakeNext {
	var once sync.Once
	return &fakeNext{reply: func(ctx context.Context, req *contract.Request) (*dns.Msg, error) {
		once.Do(func() { close(entered) })
		<-release
		return reply(ctx, req)
	}}
}

func TestCoalesce(t *testing.T) {
	tests := []struct {
		name  string
		reply func(context.Context, *contract.Request) (*dns.Msg, error)
		calls int // for cacheable answers late arrivals hit the cache: exactly one
	}{
		{"cacheable", answer(300), 1},
		{"negative", fixed(dns.RcodeNameError, nil, []dns.RR{soa("example.", 60, 60)}), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const n = 50
			entered, release := make(chan struct{}), make(chan struct{})
			next := blockingNext(entered, release, tt.reply)
			c, _ := newTest(t, testConfig(), next, nil)
			msgs := make([]*dns.Msg, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					msgs[i], errs[i] = c.Resolve(context.Background(), query("a.example.", dns.TypeA, false, false))
				})
			}
			<-entered
			close(release)
			wg.Wait()
			if next.n() != tt.calls {
				t.Fatalf("next called %d times, want %d", next.n(), tt.calls)
			}
			seen := make(map[*dns.Msg]bool)
			for i, m := range msgs {
				if errs[i] != nil || m == nil {
					t.Fatalf("waiter %d: %v", i, errs[i])
				}
				if seen[m] {
					t.Fatalf("waiter %d got a message another waiter got too", i)
				}
				seen[m] = true
			}
		})
	}
}

func TestCoalesceUncacheableCopies(t *testing.T) {
	// REFUSED is not cached, so every waiter of the flight gets its own copy.
	entered, release := make(chan struct{}), make(chan struct{})
	next := blockingNext(entered, release, fixed(dns.RcodeRefused, nil, nil))
	c, _ := newTest(t, testConfig(), next, nil)
	res := make(chan *dns.Msg, 2)
	for range 2 {
		go func() {
			m, _ := c.Resolve(context.Background(), query("a.example.", dns.TypeA, false, false))
			res <- m
		}()
	}
	<-entered
	close(release)
	m1, m2 := <-res, <-res
	if m1 == nil || m2 == nil || m1 == m2 || m1.Rcode != dns.RcodeRefused {
		t.Fatalf("got %p and %p, want two distinct REFUSED messages", m1, m2)
	}
}

func TestCoalesceCancelledWaiter(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var nextErr error
	next := blockingNext(entered, release, func(ctx context.Context, req *contract.Request) (*dns.Msg, error) {
		nextErr = ctx.Err() // read after wg.Wait below
		return answer(300)(ctx, req)
	})
	c, _ := newTest(t, testConfig(), next, nil)

	// The first client starts the query, then gives up.
	ctx1, cancel1 := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := c.Resolve(ctx1, query("a.example.", dns.TypeA, false, false))
		first <- err
	}()
	<-entered
	// A second client joins the same flight.
	second := make(chan *dns.Msg, 1)
	go func() {
		m, _ := c.Resolve(context.Background(), query("a.example.", dns.TypeA, false, false))
		second <- m
	}()
	cancel1()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: err %v, want context.Canceled", err)
	}
	// A third, already cancelled, returns at once too.
	ctx3, cancel3 := context.WithCancel(context.Background())
	cancel3()
	if _, err := c.Resolve(ctx3, query("a.example.", dns.TypeA, false, false)); !errors.Is(err, context.Canceled) {
		t.Fatalf("pre-cancelled waiter: err %v", err)
	}
	close(release)
	if m := <-second; m == nil || len(m.Answer) != 1 {
		t.Fatalf("remaining waiter got %v, want the answer", m)
	}
	if nextErr != nil {
		t.Fatalf("next's ctx was cancelled (%v) by a waiter leaving", nextErr)
	}
	if next.n() != 1 || c.Len() != 1 {
		t.Fatalf("next calls %d, Len %d; want 1, 1", next.n(), c.Len())
	}
}

// TestFetchContext: the context a miss's query runs under keeps the values
// of the context of the client that started it, none of its cancellation
// or deadline, and has the fetch's timeout as its deadline, which the next
// steps bound their waits by.
func TestFetchContext(t *testing.T) {
	type ctxKey struct{}
	tests := []struct {
		name   string
		client func() (context.Context, context.CancelFunc)
		cancel bool // the client goes away while the query is asked
	}{
		{"plain", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, false},
		{"client cancelled", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, true},
		{"client deadline sooner", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Minute/2)
		}, false},
		// A listener's context: the leader asks itself (see
		// TestInlineLeaderAbandoned for its cancellation).
		{"listener", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			return Abandons(ctx), cancel
		}, false},
		{"no cancellation", func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			type seen struct {
				deadline     time.Time
				hasDeadline  bool
				err, cause   error
				value        any
				derivedAlive bool
			}
			entered, release := make(chan struct{}), make(chan struct{})
			got := make(chan seen, 1)
			next := blockingNext(entered, release, func(ctx context.Context, req *contract.Request) (*dns.Msg, error) {
				var s seen
				s.deadline, s.hasDeadline = ctx.Deadline()
				s.err, s.cause, s.value = ctx.Err(), context.Cause(ctx), ctx.Value(ctxKey{})
				d, cancel := context.WithCancel(ctx) // as the forwarder's race does
				s.derivedAlive = d.Err() == nil
				cancel()
				got <- s
				return answer(300)(ctx, req)
			})
			c, _ := newTest(t, testConfig(), next, nil)
			client, cancel := tt.client()
			defer cancel()
			client = context.WithValue(client, ctxKey{}, "from the client")
			before := time.Now()
			done := make(chan error, 1)
			go func() {
				_, err := c.Resolve(client, query("a.example.", dns.TypeA, false, false))
				done <- err
			}()
			<-entered
			after := time.Now()
			if tt.cancel {
				cancel()
				if err := <-done; !errors.Is(err, context.Canceled) {
					t.Fatalf("cancelled client: err %v, want context.Canceled", err)
				}
			}
			close(release)
			s := <-got
			if !tt.cancel {
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			}
			if !s.hasDeadline || s.deadline.Before(before.Add(fetchTimeout)) || s.deadline.After(after.Add(fetchTimeout)) {
				t.Errorf("next step's deadline %v (set %v), want the fetch timeout %v from the miss", s.deadline, s.hasDeadline, fetchTimeout)
			}
			if s.err != nil || s.cause != nil || !s.derivedAlive {
				t.Errorf("next step's context ended (err %v, cause %v, derived alive %v): the client's cancellation reached the query", s.err, s.cause, s.derivedAlive)
			}
			if s.value != "from the client" {
				t.Errorf("next step's context value %v, want the client's", s.value)
			}
		})
	}
}

// TestLeadsInline: a miss leads its flight on its own goroutine only
// under a context that cannot end, or one marked by Abandons and not
// given a cancellation of its own since.
func TestLeadsInline(t *testing.T) {
	type ctxKey struct{}
	listener, cancel := context.WithCancel(context.Background())
	defer cancel()
	marked := Abandons(listener)
	derived, cancelDerived := context.WithCancel(marked)
	defer cancelDerived()
	timed, cancelTimed := context.WithTimeout(marked, time.Minute)
	defer cancelTimed()
	tests := []struct {
		name string
		ctx  context.Context
		want bool
	}{
		{"background", context.Background(), true},
		{"without cancel", context.WithoutCancel(listener), true},
		{"a client's", listener, false},
		{"a listener's", marked, true},
		{"a listener's with a value", context.WithValue(marked, ctxKey{}, 1), true},
		{"a listener's with a cancel of its own", derived, false},
		{"a listener's with a deadline of its own", timed, false},
		{"marked twice", Abandons(derived), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := leadsInline(tt.ctx); got != tt.want {
				t.Errorf("leadsInline = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestInlineLeaderAbandoned: a leader under a listener's context asks
// itself, under a context that ends with the listener's, so that
// abandoning the listener's queries (Server.Shutdown past its grace) ends
// its query at once rather than at the fetch's timeout; the waiters that
// joined it, abandoned too, get its failure; nothing is stored.
func TestInlineLeaderAbandoned(t *testing.T) {
	entered := make(chan struct{})
	var once sync.Once
	next := &fakeNext{reply: func(ctx context.Context, req *contract.Request) (*dns.Msg, error) {
		once.Do(func() { close(entered) })
		if ctx.Done() == nil {
			return nil, errors.New("asked on a worker, detached")
		}
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	c, _ := newTest(t, testConfig(), next, nil)
	listener, cancel := context.WithCancel(context.Background())
	ctx := Abandons(listener)
	errs := make(chan error, 2)
	go func() {
		_, err := c.Resolve(ctx, query("a.example.", dns.TypeA, false, false))
		errs <- err
	}()
	<-entered
	go func() {
		_, err := c.Resolve(context.Background(), query("a.example.", dns.TypeA, false, false))
		errs <- err
	}()
	for c.flights.waiting("a.example.") == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	for range 2 {
		if err := <-errs; !errors.Is(err, context.Canceled) {
			t.Errorf("err %v, want context.Canceled", err)
		}
	}
	if next.n() != 1 || c.Len() != 0 {
		t.Errorf("next calls %d, Len %d; want 1, 0", next.n(), c.Len())
	}
}
