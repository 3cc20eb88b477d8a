package pipeline

import (
	"net/netip"
	"sync/atomic"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/promx"
	"github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/bulwark-dns/bulwark/resolver/tenant"
)

// Tenant selection happens here, in the pipeline, once per query and
// before the guard: the listeners hand over what only they know (the
// real client after PROXY, the DoH path id or the TLS server name id) and
// the pipeline's selector decides, for the chain and the UDP fast path
// alike (docs/ARCHITECTURE.md, "Tenants"). The tenant then rides on the
// request; the policy decides with its view, and everything that reports
// the query (block log, query log, metrics, block sink) names it.

// tenants is a generation's tenant selection and the series it counts.
type tenants struct {
	sel     *tenant.Selector
	metrics *tenantSeries // nil without Metrics
}

// selectTenant is the tenant of a chain query: id from the DoH path or
// SNI ("" for none), the ECS option only if the client is a trusted
// forwarder. nil is the default policy.
func (ts *tenants) selectTenant(client netip.Addr, id string, msg *dns.Msg) *tenant.Tenant {
	if ts == nil {
		return nil
	}
	q := tenant.Query{Client: client, ID: id}
	if ts.sel.TrustedForwarder(client) {
		q.ECS, _ = tenant.ClientSubnet(msg)
	}
	return orDefault(ts.sel.Select(q))
}

// fastTenant is the tenant of a fast path query, which carries no id. ok
// is false when the client is a trusted ECS forwarder: the ECS option may
// select another tenant, and the fast path does not read options.
func (ts *tenants) fastTenant(client netip.Addr) (_ *tenant.Tenant, ok bool) {
	if ts == nil {
		return nil, true
	}
	if ts.sel.TrustedForwarder(client) {
		return nil, false
	}
	if t, found := ts.sel.ByAddr(client); found {
		return t, true
	}
	return nil, true
}

// orDefault maps the default tenant to nil, as Request.Tenant has it.
func orDefault(t *tenant.Tenant) *tenant.Tenant {
	if t == nil || t.IsDefault() {
		return nil
	}
	return t
}

// countQuery counts a query of tenant t (nil: the default, not counted
// per tenant).
func (ts *tenants) countQuery(t *tenant.Tenant) {
	if ts != nil && t != nil && ts.metrics != nil {
		ts.metrics.queries[t.Index].Inc()
	}
}

// tenantSeries are a generation's resolved per-tenant series: the label
// values are the configured tenants' names only, so cardinality is bounded
// by the config. Index 0 (the default policy) has none.
type tenantSeries struct {
	queries []prometheus.Counter
	names   []string
	// blocked[tenant][list] is resolved on first use, per table, as
	// bulwark_blocked_total's series are.
	blocked atomic.Pointer[tenantBlocked]
	vec     *prometheus.CounterVec
}

type tenantBlocked struct {
	table *blocklist.Table
	slots [][]atomic.Pointer[counterBox]
}

func newTenantVecs(f promx.Factory) (queries, blocked *prometheus.CounterVec) {
	queries = f.CounterVec("bulwark_tenant_queries_total",
		"Client queries answered under a configured tenant's policy, by tenant (the default policy is not counted here).", "tenant")
	blocked = f.CounterVec("bulwark_tenant_blocked_total", "Queries a configured tenant's policy blocked, by tenant and list.", "tenant", "list")
	return queries, blocked
}

// forTenants resolves the series of sel's tenants; nil without metrics.
// Tenants a reload removed lose their series.
func (m *Metrics) forTenants(sel *tenant.Selector) *tenantSeries {
	if m == nil {
		return nil
	}
	ts := &tenantSeries{vec: m.tenantBlocked, queries: make([]prometheus.Counter, len(sel.Tenants())+1),
		names: make([]string, len(sel.Tenants())+1)}
	keep := map[string]bool{}
	for _, t := range sel.Tenants() {
		ts.queries[t.Index] = m.tenantQueries.WithLabelValues(t.Name)
		ts.names[t.Index] = t.Name
		keep[t.Name] = true
	}
	m.forgetTenants(keep)
	return ts
}

// forgetTenants deletes the series of tenants not in keep, so that a
// reload removing a tenant removes its series.
func (m *Metrics) forgetTenants(keep map[string]bool) {
	m.tenantMu.Lock()
	defer m.tenantMu.Unlock()
	for name := range m.tenantNames {
		if !keep[name] {
			m.tenantQueries.DeletePartialMatch(prometheus.Labels{"tenant": name})
			m.tenantBlocked.DeletePartialMatch(prometheus.Labels{"tenant": name})
		}
	}
	m.tenantNames = keep
}

// countBlocked counts a block of decision d under its tenant.
func (ts *tenantSeries) countBlocked(d *query.Decision) {
	if ts == nil || d.Tenant == nil || d.Tenant.Index >= len(ts.queries) {
		return
	}
	c := ts.blocked.Load()
	if c == nil || c.table != d.Table {
		nc := &tenantBlocked{table: d.Table, slots: make([][]atomic.Pointer[counterBox], len(ts.queries))}
		for i := range nc.slots {
			nc.slots[i] = make([]atomic.Pointer[counterBox], len(d.Table.Lists))
		}
		if ts.blocked.CompareAndSwap(c, nc) {
			c = nc
		} else {
			c = ts.blocked.Load()
		}
	}
	list := d.Match.Payload.List
	if int(list) >= len(d.Table.Lists) || c.table != d.Table {
		return
	}
	slot := &c.slots[d.Tenant.Index][list]
	box := slot.Load()
	if box == nil {
		box = &counterBox{ts.vec.WithLabelValues(ts.names[d.Tenant.Index], d.Table.Lists[list].Name)}
		slot.Store(box)
	}
	box.c.Inc()
}
