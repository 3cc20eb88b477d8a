package resolver_test

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/resolver/logs"
	"github.com/bulwark-dns/bulwark/resolver/query"
)

// recorder is an Observer keeping copies of what it saw.
type recorder struct {
	mu  sync.Mutex
	evs []query.Event
}

func (r *recorder) Observe(ev query.Event) {
	ev.Query = bytes.Clone(ev.Query)
	ev.Response = bytes.Clone(ev.Response)
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
}

func (r *recorder) events() []query.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]query.Event(nil), r.evs...)
}

func TestObserversCombine(t *testing.T) {
	if query.Observers() != nil || query.Observers(nil, nil) != nil {
		t.Fatal("no observers must give nil, so the server skips observing")
	}
	a, b := &recorder{}, &recorder{}
	if o := query.Observers(nil, a); o != query.Observer(a) {
		t.Errorf("one observer should be returned as is, got %T", o)
	}
	query.Observers(a, nil, b).Observe(query.Event{QName: "x."})
	if len(a.events()) != 1 || len(b.events()) != 1 {
		t.Errorf("events: a=%d b=%d, want 1 each", len(a.events()), len(b.events()))
	}
}

// TestObserverSeesEveryAnswer runs queries through the real server over UDP
// and TCP and checks what the observer is told: the wire query and answer,
// question, rcode, transport and client, including drops and junk.
func TestObserverSeesEveryAnswer(t *testing.T) {
	tab := buildTable(t,
		list{info: blocklist.ListInfo{Name: "evil", Action: blocklist.ActionNXDomain}, names: []string{"evil.example"}},
		list{info: blocklist.ListInfo{Name: "quiet", Action: blocklist.ActionDrop}, names: []string{"quiet.example"}},
	)
	e := startEnv(t, tab, envOpts{})
	rec := &recorder{}
	e.srv.SetObserver(rec)

	e.query(t, "udp", "www.example.org", dns.TypeA, true)
	e.query(t, "tcp", "Evil.Example", dns.TypeAAAA, false)
	e.query(t, "udp", "a.evil.example", dns.TypeA, false) // the UDP fast path
	// Dropped: no answer comes, so ask with a short timeout and expect none.
	m := new(dns.Msg)
	m.SetQuestion("quiet.example.", dns.TypeA)
	c := &dns.Client{Net: "udp", Timeout: 300 * time.Millisecond}
	if _, _, err := c.Exchange(m, e.addr); err == nil {
		t.Fatal("drop action answered")
	}
	// Junk with a header: FORMERR.
	uc, err := net.Dial("udp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	junk := []byte{0xab, 0xcd, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xff}
	if _, err := uc.Write(junk); err != nil {
		t.Fatal(err)
	}
	_ = uc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := uc.Read(make([]byte, 512)); err != nil {
		t.Fatalf("no FORMERR for junk: %v", err)
	}

	evs := rec.events()
	if len(evs) != 5 {
		t.Fatalf("observed %d events, want 5: %+v", len(evs), evs)
	}
	byName := map[string]query.Event{}
	for _, ev := range evs {
		byName[ev.QName] = ev
		if ev.Client.Addr() != netip.MustParseAddr("127.0.0.1") || ev.Client.Port() == 0 {
			t.Errorf("%q: client %v", ev.QName, ev.Client)
		}
		if ev.Received.IsZero() || ev.Duration < 0 || ev.Duration > time.Minute {
			t.Errorf("%q: received %v duration %v", ev.QName, ev.Received, ev.Duration)
		}
	}
	for _, tc := range []struct {
		name    string
		proto   query.Proto
		qtype   uint16
		rcode   int
		answers bool
		decided string // the deciding list (Event.Decision, dnstap's Policy); "" none
	}{
		{"www.example.org.", query.ProtoUDP, dns.TypeA, dns.RcodeSuccess, true, ""},
		{"Evil.Example.", query.ProtoTCP, dns.TypeAAAA, dns.RcodeNameError, false, "evil"},
		{"a.evil.example.", query.ProtoUDP, dns.TypeA, dns.RcodeNameError, false, "evil"},
		{"quiet.example.", query.ProtoUDP, dns.TypeA, -1, false, "quiet"},
		{"", query.ProtoUDP, 0, dns.RcodeFormatError, false, ""},
	} {
		ev, ok := byName[tc.name]
		if !ok {
			t.Errorf("no event for %q", tc.name)
			continue
		}
		if ev.Proto != tc.proto || ev.QType != tc.qtype || ev.Rcode != tc.rcode || (ev.Answers > 0) != tc.answers {
			t.Errorf("%q: proto %v qtype %d rcode %d answers %d; want %v %d %d answers=%v",
				tc.name, ev.Proto, ev.QType, ev.Rcode, ev.Answers, tc.proto, tc.qtype, tc.rcode, tc.answers)
		}
		var decided string
		if d := ev.Decision; d.Table != nil {
			decided = d.Table.Lists[d.Match.Payload.List].Name
		}
		if decided != tc.decided {
			t.Errorf("%q: decided by list %q, want %q", tc.name, decided, tc.decided)
		}
		if tc.rcode == -1 {
			if ev.Response != nil {
				t.Errorf("%q: dropped query has a response", tc.name)
			}
			continue
		}
		var resp dns.Msg
		if err := resp.Unpack(ev.Response); err != nil {
			t.Errorf("%q: observed response does not parse: %v", tc.name, err)
			continue
		}
		if resp.Rcode != tc.rcode || len(resp.Answer) != ev.Answers {
			t.Errorf("%q: wire response rcode %d answers %d, event says %d %d", tc.name, resp.Rcode, len(resp.Answer), ev.Rcode, ev.Answers)
		}
		if tc.name == "" {
			if !bytes.Equal(ev.Query, junk) {
				t.Errorf("junk query observed as %x", ev.Query)
			}
			continue
		}
		var q dns.Msg
		if err := q.Unpack(ev.Query); err != nil || q.Question[0].Name != tc.name {
			t.Errorf("%q: observed query %v (%v)", tc.name, q.Question, err)
		}
	}

	// Removing the observer stops the events.
	e.srv.SetObserver(nil)
	e.query(t, "udp", "www.example.org", dns.TypeA, true)
	if n := len(rec.events()); n != 5 {
		t.Errorf("%d events after SetObserver(nil), want 5", n)
	}
}

// TestQueryLogAddsNoAllocations pins down the cost contract: with the query
// log on (every query sampled), answering a packet allocates exactly what it
// does with observing off, and the log's writer goroutine allocates nothing
// per line either (the count is taken after Close has drained it).
func TestQueryLogAddsNoAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counting")
	}
	srv := packetServer(t)
	pkt := packetQuery(t)
	ctx := context.Background()
	// Loopback is exempt from the rate limit, whose truncated answers
	// (allocated) a fast enough run from one client would otherwise reach.
	client := netip.MustParseAddrPort("127.0.0.1:5353")
	srv.ServePacket(ctx, pkt, client) // fill the cache
	const n = 20000
	// mallocs counts every allocation in the process per query, as a
	// fraction (testing.AllocsPerRun rounds down).
	mallocs := func(during func(), after func()) float64 {
		var before, done runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := 0; i < n; i++ {
			during()
		}
		after()
		runtime.ReadMemStats(&done)
		return float64(done.Mallocs-before.Mallocs) / n
	}
	serve := func() { srv.ServePacket(ctx, pkt, client) }
	off := mallocs(serve, func() {})
	ql := logs.NewQueryLog(nullWriter{}, 1, nil, nil)
	srv.SetObserver(ql)
	on := mallocs(serve, ql.Close)
	t.Logf("allocations per query: %.3f with the query log, %.3f without", on, off)
	// A small margin absorbs the runtime's own (GC, timers).
	if on > off+0.05 {
		t.Errorf("allocations per query: %.3f with the query log, %.3f without", on, off)
	}
}

// nullWriter is io.Discard without io.Discard's special cases.
type nullWriter struct{}

func (nullWriter) Write(p []byte) (int, error) { return len(p), nil }
