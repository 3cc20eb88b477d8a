package dnstap

import (
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/resolver/dnswire"
)

// golang-dnstap v0.4.0, the latest release, predates the Policy message
// (dnstap.proto, 2020), so it is encoded here, by the upstream field
// numbers, as the Message's unknown fields: readers built from the current
// dnstap.proto see a Policy, older ones skip it.
const (
	fieldMessagePolicy = 15 // Message.policy

	fieldPolicyType   = 1 // string: here the deciding list's name
	fieldPolicyRule   = 2 // bytes: the rule, as the block log writes it
	fieldPolicyAction = 3 // Policy.Action
	fieldPolicyMatch  = 4 // Policy.Match
	fieldPolicyValue  = 5 // bytes: the matched name, or the matched address
)

// Policy.Match and Policy.Action values of dnstap.proto.
const (
	matchQName      = 1 // the query name, or (CNAME cloaking) a name of its CNAME chain, as RPZ's QNAME trigger does
	matchClientIP   = 2
	matchResponseIP = 3
	matchNSName     = 4
	matchNSIP       = 5

	actionNXDomain  = 1
	actionNoData    = 2
	actionDrop      = 4
	actionTruncate  = 5
	actionLocalData = 6
)

// policyMatches maps RPZ triggers to dnstap's Policy.Match.
var policyMatches = [...]uint64{
	blocklist.TriggerQName:    matchQName,
	blocklist.TriggerClientIP: matchClientIP,
	blocklist.TriggerIP:       matchResponseIP,
	blocklist.TriggerNSDName:  matchNSName,
	blocklist.TriggerNSIP:     matchNSIP,
}

// policyActions maps block actions to dnstap's; refused has no dnstap
// value and is sent without one (the response's rcode says it).
var policyActions = [...]uint64{
	blocklist.ActionNXDomain: actionNXDomain,
	blocklist.ActionNoData:   actionNoData,
	blocklist.ActionNull:     actionLocalData,
	blocklist.ActionSinkhole: actionLocalData,
	blocklist.ActionRefused:  0,
	blocklist.ActionDrop:     actionDrop,
	blocklist.ActionTCPOnly:  actionTruncate,
	blocklist.ActionLocal:    actionLocalData,
}

// appendPolicy appends it's decision as the Message's policy field (tag
// and length included). It runs on the writer goroutine: the names it
// renders cost the query path nothing.
func appendPolicy(dst []byte, it *item) []byte {
	d := &it.decision
	qname := dnswire.Canonical(it.qname)
	var list string
	if int(d.Match.Payload.List) < len(d.Table.Lists) {
		list = d.Table.Lists[d.Match.Payload.List].Name
	}
	var p []byte
	p = protowire.AppendTag(p, fieldPolicyType, protowire.BytesType)
	p = protowire.AppendString(p, list)
	p = protowire.AppendTag(p, fieldPolicyRule, protowire.BytesType)
	p = protowire.AppendString(p, d.Rule(qname))
	if a := d.Match.Payload.Action; int(a) < len(policyActions) && policyActions[a] != 0 {
		p = protowire.AppendTag(p, fieldPolicyAction, protowire.VarintType)
		p = protowire.AppendVarint(p, policyActions[a])
	}
	match, value := uint64(matchQName), []byte(d.Matched(qname))
	if int(d.Trigger) < len(policyMatches) {
		match = policyMatches[d.Trigger]
	}
	if d.Prefix.IsValid() { // an address trigger: the network's address, as dnstap wants bytes of an address
		value = d.Prefix.Addr().AsSlice()
	}
	p = protowire.AppendTag(p, fieldPolicyMatch, protowire.VarintType)
	p = protowire.AppendVarint(p, match)
	p = protowire.AppendTag(p, fieldPolicyValue, protowire.BytesType)
	p = protowire.AppendBytes(p, value)
	dst = protowire.AppendTag(dst, fieldMessagePolicy, protowire.BytesType)
	return protowire.AppendBytes(dst, p)
}
