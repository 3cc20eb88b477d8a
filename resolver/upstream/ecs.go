package upstream

import (
	"net"
	"net/netip"

	contract "github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/miekg/dns"
)

// ecsPolicy decides the EDNS Client Subnet option (RFC 7871) sent
// upstream. The zero value sends none.
type ecsPolicy struct {
	forward    bool
	fromClient bool
	v4, v6     int // most bits revealed
}

func newECSPolicy(c ECSConfig) ecsPolicy {
	return ecsPolicy{forward: c.Forward, fromClient: c.UseClientAddress, v4: c.IPv4Prefix, v6: c.IPv6Prefix}
}

// subnet returns the prefix to send for req, or the zero Prefix for none:
//   - the client's own ECS option, cut to the configured prefix length
//     (a client asking for less keeps its shorter prefix; /0 is an opt-out
//     and is passed on as such, RFC 7871 section 7.1.2);
//   - else, with use_client_address, the client's address cut the same
//     way, unless it is private, loopback or link-local (useless upstream
//     and a leak of internal addressing).
func (p ecsPolicy) subnet(req *contract.Request) netip.Prefix {
	if !p.forward {
		return netip.Prefix{}
	}
	if req.Msg != nil {
		if opt := req.Msg.IsEdns0(); opt != nil {
			for _, o := range opt.Option {
				if e, ok := o.(*dns.EDNS0_SUBNET); ok {
					return p.fromOption(e)
				}
			}
		}
	}
	if !p.fromClient || !req.Client.IsValid() {
		return netip.Prefix{}
	}
	a := req.Client.Addr().Unmap().WithZone("")
	if !a.IsGlobalUnicast() || a.IsPrivate() {
		return netip.Prefix{}
	}
	return p.cut(a, 128)
}

// fromOption converts a client's ECS option; a malformed one sends none.
func (p ecsPolicy) fromOption(e *dns.EDNS0_SUBNET) netip.Prefix {
	bits := int(e.SourceNetmask)
	switch e.Family {
	case 0: // dig's +subnet=0
		if bits == 0 {
			return netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		}
	case 1:
		if a, ok := netip.AddrFromSlice(e.Address.To4()); ok && bits <= 32 {
			return p.cut(a, bits)
		}
	case 2:
		if a, ok := netip.AddrFromSlice(e.Address.To16()); ok && len(e.Address) == net.IPv6len && bits <= 128 {
			return p.cut(a, bits)
		}
	}
	return netip.Prefix{}
}

// cut returns a/bits shortened to the configured length, host bits zero.
func (p ecsPolicy) cut(a netip.Addr, bits int) netip.Prefix {
	limit := p.v6
	if a.Is4() {
		limit = p.v4
	}
	pfx, err := a.Prefix(min(bits, limit, a.BitLen()))
	if err != nil {
		return netip.Prefix{}
	}
	return pfx
}

// ClientSubnet returns the ECS prefix Resolve sends upstream for req, if
// any. A cache must key answers on it when ECS is forwarded, or one
// subnet's tailored answer is served to all.
func (f *Forwarder) ClientSubnet(req *contract.Request) (netip.Prefix, bool) {
	p := f.ecs.subnet(req)
	return p, p.IsValid()
}
