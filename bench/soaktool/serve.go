package main

import (
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// upstreamA is the address of every A answer.
const upstreamA = "203.0.113.9"

// runUpstream answers every A query with upstreamA (TTL 3600; 60 under
// flood.soak.test. so that the flood's names leave the cache), every other
// type with NODATA, on UDP and TCP, until SIGTERM. With -control, each
// answer is held back by the delay the file names ("DELAY JITTER", Go
// durations, re-read every second): the soak's delay where the kernel has
// no netem.
func runUpstream(args []string) error {
	fs := flag.NewFlagSet("upstream", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:5400", "UDP and TCP address")
	control := fs.String("control", "", `file holding "DELAY JITTER" (e.g. "40ms 20ms")`)
	_ = fs.Parse(args)
	a := net.ParseIP(upstreamA)
	var delay, jitter atomic.Int64
	if *control != "" {
		go func() {
			for ; ; time.Sleep(time.Second) {
				b, _ := os.ReadFile(*control)
				f := strings.Fields(string(b))
				var d, j time.Duration
				if len(f) == 2 {
					d, _ = time.ParseDuration(f[0])
					j, _ = time.ParseDuration(f[1])
				}
				delay.Store(int64(d))
				jitter.Store(int64(j))
			}
		}()
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if d := time.Duration(delay.Load()); d > 0 || jitter.Load() > 0 {
			if j := jitter.Load(); j > 0 {
				d += time.Duration(rand.Int64N(j))
			}
			time.Sleep(d)
		}
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative, m.RecursionAvailable = true, true
		if len(r.Question) == 1 {
			q := r.Question[0]
			if q.Qtype == dns.TypeA {
				ttl := uint32(3600)
				if dns.IsSubDomain("flood.soak.test.", q.Name) {
					ttl = 60
				}
				m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: a}}
			} else {
				m.Ns = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
					Ns: "ns.soak.test.", Mbox: "h.soak.test.", Serial: 1, Refresh: 60, Retry: 60, Expire: 60, Minttl: 60}}
			}
		}
		_ = w.WriteMsg(m)
	})
	errc := make(chan error, 2)
	for _, n := range []string{"udp", "tcp"} {
		srv := &dns.Server{Addr: *listen, Net: n, Handler: h}
		go func() { errc <- srv.ListenAndServe() }()
	}
	return waitSignal(errc)
}

// feedModes is the order the feed cycles through, one request each.
var feedModes = []string{"good", "500", "empty", "truncated", "slow"}

// runFeed serves -list at /list.txt, answering each request with the next
// of feedModes: the whole list; HTTP 500; an empty 200; a body cut at half
// its declared Content-Length (the connection closes); the whole list
// trickled over -slow. Each request is logged with its mode.
func runFeed(args []string) error {
	fs := flag.NewFlagSet("feed", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:5480", "HTTP address")
	list := fs.String("list", "", "the good list (required)")
	slow := fs.Duration("slow", 20*time.Second, "how long the slow mode takes to send the list")
	_ = fs.Parse(args)
	body, err := os.ReadFile(*list)
	if err != nil {
		return err
	}
	var n atomic.Uint64
	mux := http.NewServeMux()
	mux.HandleFunc("/list.txt", func(w http.ResponseWriter, r *http.Request) {
		mode := feedModes[(n.Add(1)-1)%uint64(len(feedModes))]
		log.Printf("feed request %d: %s", n.Load(), mode)
		w.Header().Set("Content-Type", "text/plain")
		switch mode {
		case "500":
			http.Error(w, "flapping", http.StatusInternalServerError)
		case "empty":
			w.Header().Set("Content-Length", "0")
		case "truncated":
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			_, _ = w.Write(body[:len(body)/2]) // short of Content-Length: net/http closes the connection
		case "slow":
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			const steps = 20
			chunk := (len(body) + steps - 1) / steps
			for off := 0; off < len(body); off += chunk {
				if _, err := w.Write(body[off:min(off+chunk, len(body))]); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(*slow / steps):
				}
			}
		default:
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			_, _ = w.Write(body)
		}
	})
	errc := make(chan error, 1)
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { errc <- srv.ListenAndServe() }()
	return waitSignal(errc)
}

// waitSignal returns when a server fails or SIGTERM/SIGINT arrives.
func waitSignal(errc <-chan error) error {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case err := <-errc:
		return err
	case <-sig:
		return nil
	}
}

// nameFile reads a dnsperf query file ("NAME TYPE" lines) into names.
func nameFile(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			out = append(out, dns.Fqdn(f[0]))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no names", path)
	}
	return out, nil
}
