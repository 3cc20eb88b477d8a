package dnssec

import (
	"fmt"

	"github.com/miekg/dns"
)

// Security is a validation outcome (RFC 4035 §4.3).
type Security uint8

const (
	// Insecure: no chain of trust reaches the data (unsigned delegation,
	// no anchor, negative trust anchor, unsupported algorithm).
	Insecure Security = iota
	// Secure: every RRset used is signed along a chain from an anchor.
	Secure
	// Bogus: a chain of trust should reach the data and does not.
	Bogus
)

// String is the result label of bulwark_dnssec_results_total.
func (s Security) String() string {
	switch s {
	case Secure:
		return "secure"
	case Bogus:
		return "bogus"
	}
	return "insecure"
}

// verdict is a Security with, when not secure, why: the Extended DNS Error
// (RFC 8914) to return and a reason for logs.
type verdict struct {
	sec    Security
	ede    uint16 // meaningful when hasEDE
	hasEDE bool
	why    string
	// transient: the verdict comes from failing to fetch keys or DS (a
	// timeout, an upstream SERVFAIL), not from what the zone published;
	// it is remembered only briefly.
	transient bool
}

var secure = verdict{sec: Secure}

func insecure(why string) verdict { return verdict{sec: Insecure, why: why} }

// insecureEDE is an insecure verdict that still tells the client why (EDE
// 1, 2 or 27).
func insecureEDE(code uint16, format string, args ...any) verdict {
	return verdict{sec: Insecure, ede: code, hasEDE: true, why: fmt.Sprintf(format, args...)}
}

func bogus(code uint16, format string, args ...any) verdict {
	return verdict{sec: Bogus, ede: code, hasEDE: true, why: fmt.Sprintf(format, args...)}
}

// and combines the verdicts of two parts of one answer: bogus wins, then
// insecure; the first reason is kept.
func (v verdict) and(w verdict) verdict {
	switch {
	case v.sec == Bogus:
		return v
	case w.sec == Bogus:
		return w
	case v.sec == Insecure:
		return v
	}
	return w
}

// edeText is the EDE's extra text: the code's name is implied.
func (v verdict) option() *dns.EDNS0_EDE {
	return &dns.EDNS0_EDE{InfoCode: v.ede, ExtraText: v.why}
}

// failed is a bogus verdict caused by a failed fetch.
func failed(code uint16, format string, args ...any) verdict {
	v := bogus(code, format, args...)
	v.transient = true
	return v
}
