package cache

import (
	"context"
	"errors"
	"sync"
	"testing"

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
