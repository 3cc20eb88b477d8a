// Package dnssec is the validating step of Bulwark's request path: a
// contract.Resolver that wraps the step that talks to the outside (the
// forwarder or the recursive resolver, below the cache), asks it with DO
// and CD set, and checks every RRset of the answer along a chain of trust
// from the trust anchors (RFC 4033-4035, 5155, 6840). It fetches the DS
// and DNSKEY sets it needs through the same step, so one implementation
// serves forwarding and recursive mode alike.
//
// What it returns to the cache above: validated answers with AD set (the
// responder clears AD for clients that asked with neither DO nor AD),
// TTLs capped by signature expiry; insecure answers as they came; bogus
// ones as SERVFAIL with an Extended DNS Error (RFC 8914). Queries with CD
// set pass through unvalidated; the cache keys on CD, so their answers
// never reach a CD=0 client.
package dnssec

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/miekg/dns"
	"golang.org/x/sync/singleflight"

	"github.com/bulwark-dns/bulwark/internal/clock"
	contract "github.com/bulwark-dns/bulwark/resolver/query"
)

// ednsSize is the payload size of the validator's own queries.
const ednsSize = 1232

// Validator is the validating step. It is safe for concurrent use.
type Validator struct {
	cfg      Config
	next     contract.Resolver
	clk      clock.Clock
	override time.Time
	anchors  map[string]*anchor
	ntas     []string
	keys     *lru.Cache[string, *zone]
	bogusC   *lru.Cache[dns.Question, bogusEntry]
	sigs     *sigMemo
	nsecs    *nsecCache // nil: aggressive_nsec off
	flights  singleflight.Group
	m        *Metrics
	log      *slog.Logger
}

type bogusEntry struct {
	v       verdict
	expires time.Time
}

var _ contract.Resolver = (*Validator)(nil)

// New returns a validator in front of next. cfg is used with defaults
// applied; clk, m and logger may be nil.
func New(cfg Config, next contract.Resolver, clk clock.Clock, m *Metrics, logger *slog.Logger) (*Validator, error) {
	cfg.SetDefaults()
	if errs := cfg.Validate("dnssec"); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if clk == nil {
		clk = clock.Real{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ta, err := anchors(cfg.TrustAnchorFile)
	if err != nil {
		return nil, fmt.Errorf("dnssec.trust_anchor_file: %w", err)
	}
	override, _ := cfg.overrideTime() // validated above
	keys, _ := lru.New[string, *zone](cfg.KeyCacheSize)
	bc, _ := lru.New[dns.Question, bogusEntry](cfg.KeyCacheSize)
	v := &Validator{cfg: cfg, next: next, clk: clk, override: override, anchors: ta, keys: keys, bogusC: bc, m: m, log: logger,
		sigs: newSigMemo(sigMemoSize)}
	if cfg.Aggressive() {
		v.nsecs = newNSECCache()
	}
	for _, n := range cfg.NegativeTrustAnchors {
		v.ntas = append(v.ntas, dns.CanonicalName(n))
	}
	return v, nil
}

// now is the validation time: override_date when set.
func (v *Validator) now() time.Time {
	if !v.override.IsZero() {
		return v.override
	}
	return v.clk.Now()
}

// Resolve answers req through next, validated.
func (v *Validator) Resolve(ctx context.Context, req *contract.Request) (*dns.Msg, error) {
	if req.Msg != nil && req.Msg.CheckingDisabled {
		// The client validates itself (RFC 4035 §3.2.2): hand it the data
		// as it is, never marked as validated.
		resp, err := v.next.Resolve(ctx, req)
		if resp != nil {
			resp.AuthenticatedData = false
		}
		v.m.count("unchecked")
		return resp, err
	}
	q := req.Question
	q.Name = dns.CanonicalName(q.Name)
	now := v.clk.Now()
	if b, ok := v.bogusC.Get(q); ok && now.Before(b.expires) {
		v.m.count(Bogus.String())
		return servfail(req, b.v), nil
	}
	if v.nsecs != nil && v.negativeAnchor(q.Name) == "" {
		if m := v.nsecs.nxdomain(q, now, v.cfg.NSEC3MaxIterations); m != nil { // RFC 8198
			v.m.count(Secure.String())
			return stripDNSSEC(m, req), nil
		}
	}
	resp, err := v.next.Resolve(ctx, subRequest(req))
	if err != nil || resp == nil {
		return resp, err
	}
	if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
		resp.AuthenticatedData = false // nothing to validate: SERVFAIL, REFUSED...
		return stripDNSSEC(resp, req), nil
	}
	verd := v.validate(ctx, q, resp)
	v.m.count(verd.sec.String())
	switch verd.sec {
	case Bogus:
		v.log.LogAttrs(ctx, slog.LevelInfo, "dnssec: bogus answer", slog.String("qname", q.Name),
			slog.String("qtype", typeName(q.Qtype)), slog.Int("ede", int(verd.ede)), slog.String("reason", verd.why))
		if v.cfg.BogusTTL > 0 && !verd.transient {
			v.bogusC.Add(q, bogusEntry{v: verd, expires: now.Add(v.cfg.BogusTTL)})
		}
		return servfail(req, verd), nil
	case Secure:
		resp.AuthenticatedData = true
		if v.nsecs != nil && resp.Rcode == dns.RcodeNameError && len(resp.Answer) == 0 {
			v.nsecs.store(resp.Ns, now)
		}
	default:
		resp.AuthenticatedData = false
		if verd.hasEDE {
			addEDE(resp, verd)
		}
	}
	return stripDNSSEC(resp, req), nil
}

// subRequest is req as asked of next: DO set, so signatures and proofs
// come back, and CD set, so a validating upstream hands over bogus data
// for us to judge (and name) rather than a bare SERVFAIL.
func subRequest(req *contract.Request) *contract.Request {
	var m *dns.Msg
	if req.Msg != nil {
		m = req.Msg.Copy()
	} else {
		m = new(dns.Msg)
		m.SetQuestion(req.Question.Name, req.Question.Qtype)
	}
	m.CheckingDisabled = true
	if opt := m.IsEdns0(); opt != nil {
		opt.SetDo()
	} else {
		m.SetEdns0(ednsSize, true)
	}
	return contract.NewRequest(m, req.Client, req.Proto)
}

// fetch asks next for name/qtype on the validator's own behalf.
func (v *Validator) fetch(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.CheckingDisabled = true
	m.SetEdns0(ednsSize, true)
	resp, err := v.next.Resolve(ctx, contract.NewRequest(m, netip.AddrPort{}, contract.ProtoUDP))
	if err == nil && resp == nil {
		err = errors.New("no answer")
	}
	return resp, err
}

// servfail is the answer to a bogus question: SERVFAIL and the EDE.
func servfail(req *contract.Request, verd verdict) *dns.Msg {
	m := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true, Rcode: dns.RcodeServerFailure, RecursionAvailable: true},
		Question: []dns.Question{req.Question}}
	addEDE(m, verd)
	return m
}

// addEDE puts verd's Extended DNS Error in m's OPT, which the responder
// passes on to clients that use EDNS.
func addEDE(m *dns.Msg, verd verdict) {
	opt := m.IsEdns0()
	if opt == nil {
		opt = &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		opt.SetUDPSize(ednsSize)
		m.Extra = append(m.Extra, opt)
	}
	opt.Option = append(opt.Option, verd.option())
}

// stripDNSSEC removes the DNSSEC records the validator asked for but the
// client did not (DO clear), keeping those of the type it asked for
// (RFC 4035 §3.2.1).
func stripDNSSEC(m *dns.Msg, req *contract.Request) *dns.Msg {
	if req.DO {
		return m
	}
	qt := req.Question.Qtype
	keep := func(rrs []dns.RR, answer bool) []dns.RR {
		out := rrs[:0]
		for _, rr := range rrs {
			switch t := rr.Header().Rrtype; t {
			case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3:
				if !answer || t != qt {
					continue
				}
			}
			out = append(out, rr)
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	m.Answer = keep(m.Answer, true)
	m.Ns = keep(m.Ns, false)
	m.Extra = keep(m.Extra, false)
	return m
}
