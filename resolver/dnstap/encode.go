package dnstap

import (
	"github.com/bulwark-dns/bulwark/resolver/privacy"
	contract "github.com/bulwark-dns/bulwark/resolver/query"
	dnstappb "github.com/dnstap/golang-dnstap"
	"google.golang.org/protobuf/proto"
)

// socketProtocols maps Bulwark's transports to dnstap's; DOT and DOH are in
// dnstap.proto since 2020 and tools that predate them show the number.
var socketProtocols = [...]dnstappb.SocketProtocol{
	contract.ProtoUDP: dnstappb.SocketProtocol_UDP,
	contract.ProtoTCP: dnstappb.SocketProtocol_TCP,
	contract.ProtoDoT: dnstappb.SocketProtocol_DOT,
	contract.ProtoDoH: dnstappb.SocketProtocol_DOH,
}

// encoder turns items into marshalled dnstap frames, reusing one message
// and one buffer: it is used by the writer goroutine only, which must
// write the frames before asking for the next ones.
type encoder struct {
	dt    dnstappb.Dnstap
	m     dnstappb.Message
	out   [2][]byte
	addr  [16]byte
	v     values
	frame [][]byte
	extra []byte // Dnstap.extra: "tenant=NAME"
	pol   []byte // Message.policy, encoded
}

// values are what the protobuf's optional scalar fields point to.
type values struct {
	dtType       dnstappb.Dnstap_Type
	mType        dnstappb.Message_Type
	family       dnstappb.SocketFamily
	proto        dnstappb.SocketProtocol
	port         uint32
	qsec, rsec   uint64
	qnsec, rnsec uint32
}

func (e *encoder) init(identity, version []byte) {
	e.v.dtType = dnstappb.Dnstap_MESSAGE
	e.dt.Type = &e.v.dtType
	if len(identity) > 0 {
		e.dt.Identity = identity
	}
	if len(version) > 0 {
		e.dt.Version = version
	}
	e.dt.Message = &e.m
}

// frames returns the CLIENT_QUERY and/or CLIENT_RESPONSE frames of it, as
// configured. The slices are valid until the next call.
func (e *encoder) frames(t *Tap, it *item) [][]byte {
	m := &e.m
	*m = dnstappb.Message{}
	if int(it.proto) < len(socketProtocols) {
		e.v.proto = socketProtocols[it.proto]
		m.SocketProtocol = &e.v.proto
	}
	mask := t.clients.Load().For(it.tenant)
	if a, ok := mask.WireAddr(it.client.Addr()); ok {
		if a.Is4() {
			e.v.family = dnstappb.SocketFamily_INET
			a4 := a.As4()
			copy(e.addr[:], a4[:])
			m.QueryAddress = e.addr[:4]
		} else {
			e.v.family = dnstappb.SocketFamily_INET6
			e.addr = a.As16()
			m.QueryAddress = e.addr[:16]
		}
		m.SocketFamily = &e.v.family
		if mask.Mode() == privacy.Full {
			// A port with a truncated address would point back at the
			// subscriber in a CGNAT operator's records.
			e.v.port = uint32(it.client.Port())
			m.QueryPort = &e.v.port
		}
	}
	e.dt.Extra = nil
	if it.tenant != "" {
		e.dt.Extra = append(e.extra[:0], "tenant="...)
		e.dt.Extra = append(e.dt.Extra, it.tenant...)
		e.extra = e.dt.Extra
	}
	if it.decision.Table != nil {
		e.pol = appendPolicy(e.pol[:0], it)
		m.ProtoReflect().SetUnknown(e.pol)
	}
	e.v.qsec = uint64(it.received.Unix())
	e.v.qnsec = uint32(it.received.Nanosecond())
	m.QueryTimeSec, m.QueryTimeNsec = &e.v.qsec, &e.v.qnsec
	data := *it.buf

	e.frame = e.frame[:0]
	if t.queries {
		e.v.mType = dnstappb.Message_CLIENT_QUERY
		m.Type = &e.v.mType
		m.QueryMessage = data[:it.qlen]
		e.marshal(0)
	}
	if it.answered {
		sent := it.received.Add(it.duration)
		e.v.rsec = uint64(sent.Unix())
		e.v.rnsec = uint32(sent.Nanosecond())
		e.v.mType = dnstappb.Message_CLIENT_RESPONSE
		m.Type = &e.v.mType
		m.QueryMessage = nil
		m.ResponseTimeSec, m.ResponseTimeNsec = &e.v.rsec, &e.v.rnsec
		m.ResponseMessage = data[it.qlen:]
		e.marshal(1)
	}
	return e.frame
}

// marshal encodes the message into out[i] and adds it to the frames.
// Every required field is set and every field is bytes or a number, so it
// does not fail; if it ever did, the frame is left out (and counted as
// dropped by the caller) rather than sent empty, which Frame Streams would
// read as a control frame.
func (e *encoder) marshal(i int) {
	b, err := proto.MarshalOptions{}.MarshalAppend(e.out[i][:0], &e.dt)
	if err != nil || len(b) == 0 {
		return
	}
	e.out[i] = b
	e.frame = append(e.frame, b)
}
