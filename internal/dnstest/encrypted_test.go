package dnstest

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestDoT(t *testing.T) {
	ca := NewCA(t)
	s := Start(t, WithWildcard(), WithTLS(ca.Issue(t, "dot.test", "127.0.0.1")))
	c := &dns.Client{Net: "tcp-tls", Timeout: 5 * time.Second, TLSConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: "dot.test"}}
	q := new(dns.Msg).SetQuestion("x.test.", dns.TypeA)
	m, _, err := c.Exchange(q, s.TLSAddr)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != WildcardA {
		t.Errorf("answer %v", m.Answer)
	}
	if got := s.Queries(); len(got) != 1 || got[0].Proto != "tls" || got[0].Conn == 0 || got[0].Size != q.Len() {
		t.Errorf("recorded %+v, want one tls query with a connection number", got)
	}
	if s.TLSHandshakes() != 1 {
		t.Errorf("handshakes %d, want 1", s.TLSHandshakes())
	}

	t.Run("wrong name", func(t *testing.T) {
		c := &dns.Client{Net: "tcp-tls", Timeout: 5 * time.Second, TLSConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: "other.test"}}
		if _, _, err := c.Exchange(q, s.TLSAddr); err == nil {
			t.Error("handshake with the wrong name succeeded")
		}
	})
}

// TestDoTPipelinedOutOfOrder writes three queries on one connection
// before reading: under SetHold(3) all three are answered, each under its
// own ID.
func TestDoTPipelinedOutOfOrder(t *testing.T) {
	ca := NewCA(t)
	s := Start(t, WithWildcard(), WithTLS(ca.Issue(t, "127.0.0.1")))
	s.SetHold(3)
	conn, err := tls.Dial("tcp", s.TLSAddr, &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	var want []uint16
	for i, name := range []string{"a.test.", "b.test.", "c.test."} {
		q := new(dns.Msg).SetQuestion(name, dns.TypeA)
		q.Id = uint16(100 + i)
		want = append(want, q.Id)
		wire, _ := q.Pack()
		if _, err := conn.Write(binary.BigEndian.AppendUint16(nil, uint16(len(wire)))); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(wire); err != nil {
			t.Fatal(err)
		}
	}
	var got []uint16
	dc := &dns.Conn{Conn: conn}
	for range want {
		m, err := dc.ReadMsg()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m.Id)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("answered IDs %v, want %v", got, want)
	}
	qs := s.Queries()
	if len(qs) != 3 || qs[0].Conn != qs[2].Conn {
		t.Errorf("recorded %+v, want 3 queries on one connection", qs)
	}

	s.CloseTLSConns()
	var b [1]byte
	if _, err := conn.Read(b[:]); err == nil {
		t.Error("read after CloseTLSConns succeeded")
	}
}

func TestDoH(t *testing.T) {
	ca := NewCA(t)
	s := Start(t, WithWildcard(), WithHTTPS(ca.Issue(t, "127.0.0.1")))
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: true}}
	defer client.CloseIdleConnections()
	q := new(dns.Msg).SetQuestion("x.test.", dns.TypeA)
	q.Id = 0
	wire, _ := q.Pack()
	do := func(method string) (*http.Response, []byte) {
		t.Helper()
		var req *http.Request
		if method == http.MethodGet {
			req, _ = http.NewRequest(method, s.URL+"?dns="+base64.RawURLEncoding.EncodeToString(wire), nil)
		} else {
			req, _ = http.NewRequest(method, s.URL, bytes.NewReader(wire))
			req.Header.Set("Content-Type", dohMediaType)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		resp, body := do(method)
		m := new(dns.Msg)
		if resp.StatusCode != 200 || resp.ProtoMajor != 2 || resp.Header.Get("Content-Type") != dohMediaType || m.Unpack(body) != nil || len(m.Answer) != 1 {
			t.Errorf("%s: %s %s %q, answer %v", method, resp.Proto, resp.Status, resp.Header.Get("Content-Type"), m.Answer)
		}
	}
	qs := s.Queries()
	if len(qs) != 2 || qs[0].HTTPMethod != "GET" || qs[1].HTTPMethod != "POST" || qs[0].HTTPMajor != 2 || qs[0].Proto != "https" || qs[0].Conn != qs[1].Conn {
		t.Errorf("recorded %+v", qs)
	}
	if s.HTTPSConns() != 1 {
		t.Errorf("connections %d, want 1", s.HTTPSConns())
	}
	s.SetHTTPStatus(http.StatusBadGateway)
	if resp, _ := do(http.MethodPost); resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status %s, want 502", resp.Status)
	}
}
