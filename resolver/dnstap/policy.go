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
	fieldPolicyValue  = 5 // bytes: the matched name
)

// Policy.Match and Policy.Action values of dnstap.proto.
const (
	matchQName = 1 // the query name, or (CNAME cloaking) a name of its CNAME chain, as RPZ's QNAME trigger does

	actionNXDomain  = 1
	actionNoData    = 2
	actionDrop      = 4
	actionLocalData = 6
)

// policyActions maps block actions to dnstap's; refused has no dnstap
// value and is sent without one (the response's rcode says it).
var policyActions = [...]uint64{
	blocklist.ActionNXDomain: actionNXDomain,
	blocklist.ActionNoData:   actionNoData,
	blocklist.ActionNull:     actionLocalData,
	blocklist.ActionSinkhole: actionLocalData,
	blocklist.ActionRefused:  0,
	blocklist.ActionDrop:     actionDrop,
}

// appendPolicy appends it's decision as the Message's policy field (tag
// and length included). It runs on the writer goroutine: the names it
// renders cost the query path nothing.
func appendPolicy(dst []byte, it *item) []byte {
	d := &it.decision
	matched := dnswire.Canonical(it.qname)
	if d.CNAME != "" {
		matched = d.CNAME
	}
	var list string
	if int(d.Match.Payload.List) < len(d.Table.Lists) {
		list = d.Table.Lists[d.Match.Payload.List].Name
	}
	var p []byte
	p = protowire.AppendTag(p, fieldPolicyType, protowire.BytesType)
	p = protowire.AppendString(p, list)
	p = protowire.AppendTag(p, fieldPolicyRule, protowire.BytesType)
	p = protowire.AppendString(p, d.Match.RuleText(matched))
	if a := d.Match.Payload.Action; int(a) < len(policyActions) && policyActions[a] != 0 {
		p = protowire.AppendTag(p, fieldPolicyAction, protowire.VarintType)
		p = protowire.AppendVarint(p, policyActions[a])
	}
	p = protowire.AppendTag(p, fieldPolicyMatch, protowire.VarintType)
	p = protowire.AppendVarint(p, matchQName)
	p = protowire.AppendTag(p, fieldPolicyValue, protowire.BytesType)
	p = protowire.AppendString(p, matched)
	dst = protowire.AppendTag(dst, fieldMessagePolicy, protowire.BytesType)
	return protowire.AppendBytes(dst, p)
}
