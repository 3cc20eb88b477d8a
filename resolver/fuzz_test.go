package resolver_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/resolver"
	"github.com/bulwark-dns/bulwark/resolver/pipeline"
	"github.com/bulwark-dns/bulwark/resolver/query"
)

// fuzzServer is one server with TCP, DoT and DoH listeners for a fuzz
// target's whole run.
type fuzzServer struct {
	e             *env
	tcp, dot, doh string
	tlsConf       *tls.Config
	hc            *http.Client
}

func startFuzzServer(f *testing.F) *fuzzServer {
	cert := newTestCert(f, f.TempDir())
	e := startEnv(f, phishingTable(f), envOpts{listenCfg: resolver.ListenConfig{
		DNS: []string{"127.0.0.1:0"}, TLS: []string{"127.0.0.1:0"}, HTTPS: []string{"127.0.0.1:0"},
		CertFile: cert.certFile, KeyFile: cert.keyFile,
	}})
	addrs := e.srv.StreamAddrs()
	return &fuzzServer{e: e, tcp: addrs[query.ProtoTCP][0].String(), dot: addrs[query.ProtoDoT][0].String(),
		doh: addrs[query.ProtoDoH][0].String(), tlsConf: cert.clientTLS(), hc: dohClient(cert)}
}

// alive fails t unless the server still answers an ordinary TCP query.
func (s *fuzzServer) alive(t *testing.T) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion("alive.example.org.", dns.TypeA)
	resp, _, err := (&dns.Client{Net: "tcp", Timeout: 5 * time.Second}).Exchange(m, s.tcp)
	if err != nil || resp.Rcode != dns.RcodeSuccess {
		t.Fatalf("the server stopped answering: %v %v", resp, err)
	}
}

// sentIDs are the IDs of the complete frames in a client's byte stream.
func sentIDs(in []byte) map[uint16]bool {
	ids := map[uint16]bool{}
	for len(in) >= 2 {
		n := int(binary.BigEndian.Uint16(in))
		if len(in) < 2+n {
			break
		}
		if n >= 2 {
			ids[binary.BigEndian.Uint16(in[2:])] = true
		}
		in = in[2+n:]
	}
	return ids
}

// FuzzStreamFraming writes arbitrary bytes on a TCP or DoT connection,
// half-closes it and reads everything the server sends back. Each answer
// must be one well-framed DNS response to a complete frame the client
// sent (by ID); the server must close the connection, and keep answering
// others.
func FuzzStreamFraming(f *testing.F) {
	frame := func(name string, qtype uint16, id uint16) []byte {
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		m.Id = id
		w, _ := m.Pack()
		return append(binary.BigEndian.AppendUint16(nil, uint16(len(w))), w...)
	}
	a := frame("www.example.org.", dns.TypeA, 1)
	b := frame("x.evil.example.", dns.TypeAAAA, 2)
	for _, seed := range [][]byte{
		a, append(a, b...), a[:5], {0, 0}, {0, 1, 0}, {0xff, 0xff, 1, 2, 3},
		append(append([]byte{}, a...), 0, 12, 0, 3, 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 0), // an answer, not a query
		append([]byte{0, 14}, bytes.Repeat([]byte{0xc0}, 14)...),
	} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	s := startFuzzServer(f)
	f.Fuzz(func(t *testing.T, in []byte, overTLS bool) {
		var c net.Conn
		var err error
		d := &net.Dialer{Timeout: 5 * time.Second}
		if overTLS {
			c, err = tls.DialWithDialer(d, "tcp", s.dot, s.tlsConf)
		} else {
			c, err = d.Dial("tcp", s.tcp)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = c.Write(in)
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		out, err := io.ReadAll(c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the server kept the half-closed connection open (%d bytes read)", len(out))
		}
		ids := sentIDs(in)
		for len(out) > 0 {
			if len(out) < 2 {
				t.Fatalf("a stray byte after the last answer")
			}
			n := int(binary.BigEndian.Uint16(out))
			if len(out) < 2+n {
				t.Fatalf("an answer framed as %d bytes, %d sent", n, len(out)-2)
			}
			m := new(dns.Msg)
			if err := m.Unpack(out[2 : 2+n]); err != nil || !m.Response {
				t.Fatalf("an answer that is not a DNS response (%v): %x", err, out[2:2+n])
			}
			if !ids[m.Id] {
				t.Fatalf("an answer with ID %d, sent %v", m.Id, ids)
			}
			out = out[2+n:]
		}
		s.alive(t)
	})
}

// FuzzDoHHandler sends arbitrary DoH requests (GET with a raw or an
// encoded dns parameter, POST with any content type and body, other
// methods) over one HTTP/2 connection. Every reply is a status the
// handler documents, a 200 is one DNS response, and the server keeps
// answering.
func FuzzDoHHandler(f *testing.F) {
	m := new(dns.Msg)
	m.SetQuestion("www.example.org.", dns.TypeA)
	q, _ := m.Pack()
	m.SetQuestion("x.evil.example.", dns.TypeA)
	m.SetEdns0(4096, true)
	blocked, _ := m.Pack()
	for _, seed := range []struct {
		method byte
		body   []byte
		ctype  string
		raw    string
	}{
		{0, q, "", ""}, {1, q, "application/dns-message", ""}, {1, blocked, "application/dns-message", ""},
		{1, q, "text/plain", ""}, {0, nil, "", "%zz"}, {0, nil, "", "AAAA===="}, {2, q, "", ""},
		{1, []byte{0, 0, 1, 0}, "application/dns-message", ""}, {0, q[:11], "", ""},
	} {
		f.Add(seed.method, seed.body, seed.ctype, seed.raw)
	}
	s := startFuzzServer(f)
	f.Fuzz(func(t *testing.T, method byte, body []byte, ctype, raw string) {
		url := "https://" + s.doh + "/dns-query"
		var req *http.Request
		var err error
		switch method % 3 {
		case 0:
			p := raw
			if p == "" {
				p = base64.RawURLEncoding.EncodeToString(body)
			}
			req, err = http.NewRequest(http.MethodGet, url+"?dns="+p, nil)
		case 1:
			req, err = http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			if err == nil {
				req.Header.Set("Content-Type", ctype)
			}
		default:
			req, err = http.NewRequest(http.MethodPut, url, bytes.NewReader(body))
		}
		if err != nil {
			return // not a request a client can send
		}
		resp, err := s.hc.Do(req)
		if err != nil {
			// A reset stream is the handler's answer for action drop;
			// anything else shows below, as a dead server.
			s.alive(t)
			return
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			am := new(dns.Msg)
			if err := am.Unpack(out); err != nil || !am.Response || resp.Header.Get("Content-Type") != "application/dns-message" {
				t.Fatalf("200 with %q, %d bytes that are not a DNS response: %v", resp.Header.Get("Content-Type"), len(out), err)
			}
		case http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge,
			http.StatusRequestURITooLong, http.StatusUnsupportedMediaType, http.StatusServiceUnavailable,
			http.StatusRequestHeaderFieldsTooLarge:
		default:
			t.Fatalf("HTTP %d: %s", resp.StatusCode, out)
		}
		s.alive(t)
	})
}

// FuzzUDPPacketPath feeds arbitrary bytes through the whole UDP packet path
// — parse, guard (ACL, rate limit, sanity), policy, cache, a fake upstream
// whose answers carry a CNAME chain, finish, truncate, pack — and checks
// that it never panics and that whatever it sends back is a well-formed
// answer to the same ID that fits the UDP size.
func FuzzUDPPacketPath(f *testing.F) {
	tab := buildTable(f,
		list{info: blocklist.ListInfo{Name: "a", Action: blocklist.ActionNXDomain}, names: []string{"evil.example"}},
		list{info: blocklist.ListInfo{Name: "b", Action: blocklist.ActionNull}, names: []string{"null.example"}},
		list{info: blocklist.ListInfo{Name: "c", Allow: true}, names: []string{"good.evil.example"}})
	upstream := query.ResolverFunc(func(ctx context.Context, req *query.Request) (*dns.Msg, error) {
		m := new(dns.Msg)
		m.SetQuestion(req.Question.Name, req.Question.Qtype)
		m.Response = true
		if len(req.Question.Name) > 40 {
			m.Rcode = dns.RcodeNameError
			m.Ns = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
				Ns: "a.", Mbox: "b.", Minttl: 30}}
			return m, nil
		}
		m.Answer = append(m.Answer,
			&dns.CNAME{Hdr: dns.RR_Header{Name: req.Question.Name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 60}, Target: "x.null.example."},
			&dns.A{Hdr: dns.RR_Header{Name: "x.null.example.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 1)})
		return m, nil
	})
	srv := newChain(f, chainConfig{table: tab, up: upstream, clock: clock.NewFake(clock.Real{}.Now()), guard: pipeline.GuardConfig{
		Chaos:     pipeline.ChaosConfig{Version: "v", ID: "id"},
		RateLimit: pipeline.RateLimitConfig{Rate: 1000, Burst: 1000},
	}}).server(f, "127.0.0.1:0", false)
	for _, name := range []string{"www.example.org.", "evil.example.", "good.evil.example.", "null.example.", "version.bind."} {
		for _, edns := range []bool{false, true} {
			m := new(dns.Msg)
			m.SetQuestion(name, dns.TypeA)
			if edns {
				m.SetEdns0(4096, true)
			}
			w, _ := m.Pack()
			f.Add(w)
		}
	}
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	for _, n := range []int{254, 255, 256, 257} { // around the name length limit
		f.Add(longNameQuery(n))
	}
	client := netip.MustParseAddrPort("127.0.0.1:5353")
	f.Fuzz(func(t *testing.T, pkt []byte) {
		out := srv.ServePacket(context.Background(), pkt, client)
		if out == nil {
			return
		}
		var resp dns.Msg
		if err := resp.Unpack(out); err != nil {
			t.Fatalf("answer does not parse: %v", err)
		}
		if len(pkt) < 2 || resp.Id != uint16(pkt[0])<<8|uint16(pkt[1]) || !resp.Response {
			t.Fatalf("answer id %d / QR %v does not answer the query", resp.Id, resp.Response)
		}
		if len(out) > 1232 {
			t.Fatalf("UDP answer of %d bytes", len(out))
		}
	})
}
