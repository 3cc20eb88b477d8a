package upstream

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fuzzID is the ID of the query the fuzzed replies answer.
const fuzzID = 0x1234

// byteConn is a net.Conn reading from r (readTCP needs only Read).
type byteConn struct {
	net.Conn
	r *bytes.Reader
}

func (c byteConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// FuzzReplyReaders feeds what an upstream (or an attacker racing it) can
// send to every reader of replies: the UDP/DoH match and parse
// (query.matches, relay), the DoH body reader, the TCP frame
// reader and the pipelined stream reader of tcp:// and tls://. None may
// panic; an accepted reply answers exactly our question; a reader returns
// what the frame declares or an error; the stream reader hands a waiting
// query only a reply with its ID.
//
// mode bit 0 writes our ID into the reply and bit 1 our question (with QR
// set), so that the fuzzer gets past the match; bit 2 gives the TCP frame
// its true length instead of the reply's first two octets.
func FuzzReplyReaders(f *testing.F) {
	q := dns.Question{Name: "www.Example.org.", Qtype: dns.TypeA, Qclass: dns.ClassINET}
	reply := func(rcode int, tc bool, answers ...string) []byte {
		m := new(dns.Msg)
		m.SetQuestion(q.Name, q.Qtype)
		m.Id, m.Response, m.Rcode, m.Truncated = fuzzID, true, rcode, tc
		for _, a := range answers {
			rr, err := dns.NewRR(a)
			if err != nil {
				f.Fatal(err)
			}
			m.Answer = append(m.Answer, rr)
		}
		m.SetEdns0(1232, false)
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	good := reply(dns.RcodeSuccess, false, "www.example.org. 300 IN A 192.0.2.1")
	for _, seed := range [][]byte{
		good,
		reply(dns.RcodeNameError, false),
		reply(dns.RcodeServerFailure, false),
		reply(dns.RcodeRefused, false),
		reply(dns.RcodeSuccess, true),
		reply(dns.RcodeSuccess, false, "www.example.org. 300 IN CNAME a.example.net.", "a.example.net. 300 IN A 192.0.2.2"),
		good[:len(good)-3],             // cut short
		append(good[:12:12], 0xc0, 12), // a name pointing at itself
		{},
		make([]byte, 12),
	} {
		for _, mode := range []byte{0, 3, 7} {
			f.Add(seed, mode)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte, mode byte) {
		var b buffers
		qq, err := packQuery(b.query[:], q, true, false, false, netip.Prefix{})
		if err != nil {
			t.Fatal(err)
		}
		qq.setID(fuzzID)
		r := append([]byte(nil), in...)
		if mode&1 != 0 && len(r) >= 2 {
			copy(r, qq.udp()[:2])
		}
		if end := 12 + qq.qlen; mode&2 != 0 && len(r) >= end {
			copy(r[12:end], qq.udp()[12:end])
			r[2] = r[2]&^0x78 | 0x80 // QR, opcode QUERY
			r[4], r[5] = 0, 1
		}
		checkAccepted(t, &qq, r)

		// DoH: the body reader returns the body whole, or an error.
		if got, err := readBody(bytes.NewReader(r), make([]byte, 64)); err == nil && !bytes.Equal(got, r) {
			t.Fatalf("readBody returned %d bytes of %d", len(got), len(r))
		} else if err != nil && len(r) <= dns.MaxMsgSize {
			t.Fatalf("readBody refused a %d-byte body: %v", len(r), err)
		}

		// TCP: one frame, its length prefix true (mode bit 2) or not.
		frame := r
		if mode&4 != 0 {
			frame = binary.BigEndian.AppendUint16(nil, uint16(min(len(r), 0xffff)))
			frame = append(frame, r[:min(len(r), 0xffff)]...)
		}
		if got, err := readTCP(byteConn{r: bytes.NewReader(frame)}, &b); err == nil {
			if n := int(binary.BigEndian.Uint16(frame)); len(got) != n || !bytes.Equal(got, frame[2:2+n]) {
				t.Fatalf("readTCP returned %d bytes for a frame of %d", len(got), n)
			}
		}

		// Pipelined stream: the same bytes as a stream of frames.
		checkStream(t, frame)
	})
}

// checkAccepted runs the UDP path's checks on r; a reply they accept must
// answer our question, and relay must hand on its bytes without the OPT,
// with the reply's rcode.
func checkAccepted(t *testing.T, qq *query, r []byte) {
	if !qq.matches(r) {
		return
	}
	wire, rcode, ok := relay(r)
	msg := new(dns.Msg)
	if msg.Unpack(r) != nil {
		return
	}
	if msg.Id != fuzzID || len(msg.Question) != 1 || dns.CanonicalName(msg.Question[0].Name) != "www.example.org." ||
		msg.Question[0].Qtype != dns.TypeA || msg.Question[0].Qclass != dns.ClassINET {
		t.Fatalf("matches accepted a reply for %v (ID %#x)", msg.Question, msg.Id)
	}
	if !ok {
		return
	}
	if rcode != msg.Rcode {
		t.Fatalf("relay read rcode %d, miekg/dns %d", rcode, msg.Rcode)
	}
	out := new(dns.Msg)
	if err := out.Unpack(wire); err != nil {
		t.Fatalf("relay turned a reply that decodes into one that does not: %v", err)
	}
	if out.IsEdns0() != nil {
		t.Fatalf("relay kept the OPT of %v", out)
	}
	stripOPT(msg)
	msg.Rcode &= 0xF
	if out.String() != msg.String() {
		t.Fatalf("relay changed the reply:\n%v\nwant\n%v", out, msg)
	}
}

// checkStream serves stream to a pipelined connection on which one query
// (fuzzID) waits, and checks what the query is handed.
func checkStream(t *testing.T, stream []byte) {
	client, srv := net.Pipe()
	ch := make(chan []byte, 1)
	pool := &streamPool{idle: time.Second}
	c := &streamConn{pool: pool, conn: client, pending: map[uint16]chan []byte{fuzzID: ch}}
	pool.wg.Add(1)
	go c.readLoop()
	go func() {
		_, _ = srv.Write(stream)
		srv.Close()
	}()
	pool.wg.Wait()
	select {
	case got, ok := <-ch:
		if ok && (len(got) < 12 || binary.BigEndian.Uint16(got) != fuzzID) {
			t.Fatalf("the stream handed query %#x a %d-byte reply for ID %#x", fuzzID, len(got), binary.BigEndian.Uint16(got))
		}
	default:
		t.Fatal("the stream ended without answering or failing the waiting query")
	}
}
