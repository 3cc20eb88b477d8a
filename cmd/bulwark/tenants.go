package main

import (
	"fmt"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/config"
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
