// Command probe asks one DNS question and checks the answer; the benchmark
// harness uses it instead of dig so that it needs no extra package.
//
//	probe [-s 127.0.0.1:53] [-tcp] [-type A] [-wait 0] [-since UNIXNANO] NAME EXPECT
//
// EXPECT is NOERROR, NXDOMAIN, A=ADDR (NOERROR with that address among the
// answers), TXT (print the first TXT string) or NONE (no answer at all: the
// port is free). With -wait the question is repeated every 10 ms until the
// expectation holds or the wait is over. With -since (a time.Now().UnixNano()
// taken before the server was started) the time from then to the first
// satisfying answer is printed as "elapsed_s=S".
// Exit status: 0 when the expectation holds, 1 otherwise.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/miekg/dns"
)

func main() {
	server := flag.String("s", "127.0.0.1:53", "server address (loopback only)")
	tcp := flag.Bool("tcp", false, "ask over TCP")
	qtype := flag.String("type", "A", "query type")
	wait := flag.Duration("wait", 0, "keep asking until the expectation holds, at most this long")
	timeout := flag.Duration("timeout", 500*time.Millisecond, "timeout of one exchange")
	since := flag.Int64("since", 0, "print seconds from this UnixNano time to the satisfying answer")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: probe [-s ADDR] [-tcp] [-type T] [-wait D] [-since NS] NAME EXPECT")
		os.Exit(2)
	}
	if ap, err := netip.ParseAddrPort(*server); err != nil || !ap.Addr().IsLoopback() {
		fmt.Fprintf(os.Stderr, "probe: -s %q must be a loopback address:port\n", *server)
		os.Exit(2)
	}
	name, expect := dns.Fqdn(flag.Arg(0)), flag.Arg(1)
	t, ok := dns.StringToType[strings.ToUpper(*qtype)]
	if !ok {
		fmt.Fprintf(os.Stderr, "probe: unknown type %q\n", *qtype)
		os.Exit(2)
	}
	c := &dns.Client{Timeout: *timeout}
	if *tcp {
		c.Net = "tcp"
	}
	deadline := time.Now().Add(*wait)
	for {
		m := new(dns.Msg).SetQuestion(name, t)
		r, _, err := c.Exchange(m, *server)
		got, good := judge(r, err, expect)
		if good || !time.Now().Before(deadline) {
			proto := "udp"
			if *tcp {
				proto = "tcp"
			}
			status := "ok"
			if !good {
				status = "FAIL"
			}
			fmt.Printf("%s %s %s %s want %s got %s", status, *server, proto, name, expect, got)
			if *since > 0 && good {
				fmt.Printf(" elapsed_s=%.3f", time.Since(time.Unix(0, *since)).Seconds())
			}
			fmt.Println()
			if !good {
				os.Exit(1)
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// judge describes the answer and says whether it meets expect.
func judge(r *dns.Msg, err error, expect string) (string, bool) {
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return "timeout", expect == "NONE"
		}
		return "error: " + err.Error(), expect == "NONE"
	}
	rc := dns.RcodeToString[r.Rcode]
	var addrs, txt []string
	for _, rr := range r.Answer {
		switch v := rr.(type) {
		case *dns.A:
			addrs = append(addrs, v.A.String())
		case *dns.TXT:
			txt = append(txt, v.Txt...)
		}
	}
	got := rc
	if len(addrs) > 0 {
		got += " A=" + strings.Join(addrs, ",")
	}
	switch {
	case expect == "NONE":
		return got, false
	case expect == "TXT":
		if len(txt) > 0 {
			return txt[0], true
		}
		return got, false
	case strings.HasPrefix(expect, "A="):
		want := strings.TrimPrefix(expect, "A=")
		for _, a := range addrs {
			if a == want && r.Rcode == dns.RcodeSuccess {
				return got, true
			}
		}
		return got, false
	default:
		return got, rc == expect
	}
}
