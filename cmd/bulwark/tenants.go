package main

import (
	"fmt"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/resolver/config"
	"github.com/bulwark-dns/bulwark/resolver/tenant"
)

// newTenants compiles the tenants: section against the loaded lists (a
// view is a bitmask over their indexes); nil when no tenant is
// configured, so that the pipeline decides with one policy as before.
func newTenants(cfg *config.Config, table *blocklist.Table) (*tenant.Selector, error) {
	if len(cfg.Tenants) == 0 {
		return nil, nil
	}
	sel, err := tenant.New(cfg.Tenants, cfg.TenantECS, tenant.Refs(table.Lists))
	if err != nil {
		return nil, fmt.Errorf("tenants: %w", err)
	}
	return sel, nil
}

// tenantStats is one tenant's part of GET /stats.
type tenantStats struct {
	Queries float64 `json:"queries"`
	Blocked struct {
		Total  float64            `json:"total"`
		ByList map[string]float64 `json:"by_list"`
	} `json:"blocked"`
}

// tenants is GET /stats per configured tenant (the running config's: a
// removed tenant is history); nil without tenants.
func (g *gathered) tenants(cfg *config.Config) map[string]tenantStats {
	if len(cfg.Tenants) == 0 {
		return nil
	}
	out := make(map[string]tenantStats, len(cfg.Tenants))
	for _, t := range cfg.Tenants {
		var ts tenantStats
		ts.Queries = g.sum("bulwark_tenant_queries_total", "tenant", t.Name)
		ts.Blocked.Total = g.sum("bulwark_tenant_blocked_total", "tenant", t.Name)
		ts.Blocked.ByList = g.byWhere("bulwark_tenant_blocked_total", "list", "tenant", t.Name)
		out[t.Name] = ts
	}
	return out
}
