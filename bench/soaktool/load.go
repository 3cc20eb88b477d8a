package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// runFlood sends -rate unique random names a second (all cache misses)
// for -duration from one socket, without waiting for answers, and prints
// how many were answered, by rcode.
func runFlood(args []string) error {
	fs := flag.NewFlagSet("flood", flag.ExitOnError)
	server := fs.String("server", "127.0.0.1:5301", "resolver address")
	qps := fs.Int("rate", 300, "queries per second")
	dur := fs.Duration("duration", time.Minute, "how long")
	_ = fs.Parse(args)
	c, err := net.Dial("udp", *server)
	if err != nil {
		return err
	}
	defer c.Close()
	var mu sync.Mutex
	rcodes := map[string]int{}
	answered := 0
	go func() {
		buf := make([]byte, 1500)
		for {
			n, err := c.Read(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var m dns.Msg
			if err != nil || m.Unpack(buf[:n]) != nil {
				continue
			}
			mu.Lock()
			rcodes[dns.RcodeToString[m.Rcode]]++
			answered++
			mu.Unlock()
		}
	}()
	const tick = 10 * time.Millisecond
	perTick := max(*qps/100, 1)
	t := time.NewTicker(tick)
	defer t.Stop()
	end := time.Now().Add(*dur)
	sent := 0
	salt := rand.Uint64()
	for now := range t.C {
		if now.After(end) {
			break
		}
		for i := 0; i < perTick; i++ {
			m := new(dns.Msg)
			m.SetQuestion(fmt.Sprintf("f%d-%x.flood.soak.test.", sent, salt^rand.Uint64()), dns.TypeA)
			w, _ := m.Pack()
			if _, err := c.Write(w); err == nil {
				sent++
			}
		}
	}
	time.Sleep(5 * time.Second) // the last answers
	mu.Lock()
	defer mu.Unlock()
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"sent": sent, "answered": answered, "rcodes": rcodes})
}

// checkStats is check's summary.
type checkStats struct {
	Sent, OK, Wrong, Lost, LostDuringReload int
	// LostByKind and LostAt say which queries were lost, and when (the
	// first 50, RFC 3339), to set against the fault phases in samples.tsv.
	LostByKind map[string]int
	LostAt     []string
	// ServfailMiss: never-seen names answered SERVFAIL (the upstream
	// lost or delayed past the timeout by netem): allowed, counted.
	ServfailMiss                  int
	ByKind                        map[string]int
	Reloads, ReloadsFailed        int
	ReloadApplyMaxMs              int64
	WrongExamples, ReloadFailures []string
}

// runCheck asks -rate questions a second for -duration, each checked:
// an allowed name (NOERROR, A 203.0.113.9), a blocked name (NXDOMAIN), a
// never-seen name (NOERROR A 203.0.113.9, or SERVFAIL when the upstream
// failed). Every -reload it rewrites `version: "soak-N"` in -config, POSTs
// /reload to -admin and waits until version.bind answers soak-N. A query
// without an answer within 4 s is lost; lost during a reload when it was
// sent between a reload's start and a second after it took effect.
func runCheck(args []string) error {
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	server := fs.String("server", "127.0.0.1:5301", "resolver address")
	admin := fs.String("admin", "", "admin address (host:port); empty: no reloads")
	config := fs.String("config", "", "the resolver's config file, rewritten on each reload")
	allowedF := fs.String("allowed", "", "dnsperf file of names that must resolve")
	blockedF := fs.String("blocked", "", "dnsperf file of names that must be NXDOMAIN")
	qps := fs.Int("rate", 100, "queries per second")
	dur := fs.Duration("duration", time.Minute, "how long")
	every := fs.Duration("reload", 30*time.Second, "reload interval")
	_ = fs.Parse(args)
	allowed, err := nameFile(*allowedF)
	if err != nil {
		return err
	}
	blocked, err := nameFile(*blockedF)
	if err != nil {
		return err
	}
	ck := &checker{server: *server, st: checkStats{ByKind: map[string]int{}, LostByKind: map[string]int{}}}
	ctx, cancel := context.WithTimeout(context.Background(), *dur)
	defer cancel()
	var wg sync.WaitGroup
	if *admin != "" {
		wg.Add(1)
		go func() { defer wg.Done(); ck.reloads(ctx, *admin, *config, *every) }()
	}
	jobs := make(chan func(), 1000)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				j()
			}
		}()
	}
	t := time.NewTicker(time.Second / time.Duration(max(*qps, 1)))
	var seq int
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-t.C:
		}
		seq++
		n := seq
		switch {
		case n%10 == 0:
			jobs <- func() { ck.ask("miss", fmt.Sprintf("c%d-%x.miss.soak.test.", n, rand.Uint32())) }
		case n%2 == 0:
			jobs <- func() { ck.ask("allowed", allowed[rand.IntN(len(allowed))]) }
		default:
			jobs <- func() { ck.ask("blocked", blocked[rand.IntN(len(blocked))]) }
		}
	}
	t.Stop()
	close(jobs)
	wg.Wait()
	ck.mu.Lock()
	defer ck.mu.Unlock()
	for _, at := range ck.lostAt {
		for _, w := range ck.windows {
			if !at.Before(w[0]) && !at.After(w[1]) {
				ck.st.LostDuringReload++
				break
			}
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(ck.st)
}

type checker struct {
	server  string
	mu      sync.Mutex
	st      checkStats
	lostAt  []time.Time
	windows [][2]time.Time
}

func (c *checker) ask(kind, name string) {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	sent := time.Now()
	resp, _, err := (&dns.Client{Net: "udp", Timeout: 4 * time.Second}).Exchange(m, c.server)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.st.Sent++
	c.st.ByKind[kind]++
	if err != nil {
		c.st.Lost++
		c.st.LostByKind[kind]++
		c.lostAt = append(c.lostAt, sent)
		if len(c.st.LostAt) < 50 {
			c.st.LostAt = append(c.st.LostAt, sent.UTC().Format(time.RFC3339))
		}
		return
	}
	problem := ""
	switch {
	case kind == "blocked" && resp.Rcode != dns.RcodeNameError:
		problem = "want NXDOMAIN"
	case kind == "miss" && resp.Rcode == dns.RcodeServerFailure:
		c.st.ServfailMiss++
		return
	case kind != "blocked" && (resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 || !isUpstreamA(resp.Answer[0])):
		problem = "want NOERROR A " + upstreamA
	}
	if problem == "" {
		c.st.OK++
		return
	}
	c.st.Wrong++
	if len(c.st.WrongExamples) < 20 {
		c.st.WrongExamples = append(c.st.WrongExamples, fmt.Sprintf("%s %s: %s, got %s %v",
			kind, name, problem, dns.RcodeToString[resp.Rcode], resp.Answer))
	}
}

func isUpstreamA(rr dns.RR) bool {
	a, ok := rr.(*dns.A)
	return ok && a.A.String() == upstreamA
}

var versionLine = regexp.MustCompile(`version: "soak-[0-9]+"`)

// reloads rewrites the config and reloads it every interval until ctx ends.
func (c *checker) reloads(ctx context.Context, admin, config string, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		err := reloadOnce(admin, config, n)
		if err == nil {
			err = c.waitVersion(fmt.Sprintf("soak-%d", n), 10*time.Second)
		}
		applied := time.Now()
		c.mu.Lock()
		c.st.Reloads++
		c.windows = append(c.windows, [2]time.Time{start, applied.Add(time.Second)})
		if ms := applied.Sub(start).Milliseconds(); ms > c.st.ReloadApplyMaxMs {
			c.st.ReloadApplyMaxMs = ms
		}
		if err != nil {
			c.st.ReloadsFailed++
			c.st.ReloadFailures = append(c.st.ReloadFailures, fmt.Sprintf("reload %d: %v", n, err))
		}
		c.mu.Unlock()
	}
}

// reloadOnce writes version soak-n into config and POSTs /reload.
func reloadOnce(admin, config string, n int) error {
	b, err := os.ReadFile(config)
	if err != nil {
		return err
	}
	if !versionLine.Match(b) {
		return fmt.Errorf("%s has no `version: \"soak-N\"` line", config)
	}
	b = versionLine.ReplaceAll(b, []byte(fmt.Sprintf(`version: "soak-%d"`, n)))
	tmp := config + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, config); err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Post("http://"+admin+"/reload", "text/plain", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /reload: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// waitVersion asks version.bind until it answers want.
func (c *checker) waitVersion(want string, limit time.Duration) error {
	m := new(dns.Msg)
	m.SetQuestion("version.bind.", dns.TypeTXT)
	m.Question[0].Qclass = dns.ClassCHAOS
	got := ""
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		resp, _, err := (&dns.Client{Timeout: time.Second}).Exchange(m, c.server)
		if err == nil && len(resp.Answer) == 1 {
			if txt, ok := resp.Answer[0].(*dns.TXT); ok && len(txt.Txt) == 1 {
				if got = txt.Txt[0]; got == want {
					return nil
				}
			}
		}
	}
	return fmt.Errorf("version.bind still %q after %s, want %q", got, limit, want)
}
