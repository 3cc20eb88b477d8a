package main

import (
	"fmt"

	"github.com/bulwark-dns/bulwark/resolver/config"
	"github.com/bulwark-dns/bulwark/resolver/privacy"
)

// clientSets are how each destination writes client addresses (README
// "Privacy"): the block log, the query log and dnstap, each with the
// tenants' own modes.
type clientSets struct {
	blocked, queries, dnstap *privacy.Set
}

// clientSets builds the sets of cfg. Without hash_key_file, hashes use the
// daemon's secret, made once per process, so that the logs agree and a
// reload does not change every client's hash.
func (d *daemon) clientSets(cfg *config.Config) (clientSets, error) {
	d.secretOnce.Do(func() { d.secret, d.secretErr = privacy.NewSecret() })
	if d.secretErr != nil {
		return clientSets{}, d.secretErr
	}
	tenants := map[string]string{}
	for _, t := range cfg.Tenants {
		tenants[t.Name] = t.Log.Client
	}
	var (
		cs  clientSets
		err error
	)
	for _, s := range []struct {
		set  **privacy.Set
		what string
		cfg  privacy.Config
	}{
		{&cs.blocked, "block log", cfg.Log.ClientOf("blocked")},
		{&cs.queries, "query log", cfg.Log.ClientOf("queries")},
		{&cs.dnstap, "dnstap", dnstapClient(cfg)},
	} {
		s.cfg.Secret = d.secret
		if *s.set, err = privacy.NewSet(s.cfg, tenants); err != nil {
			return clientSets{}, fmt.Errorf("%s client addresses: %w", s.what, err)
		}
	}
	return cs, nil
}

// dnstapClient is dnstap's privacy setting: log.client's, with
// dnstap.client's mode when set.
func dnstapClient(cfg *config.Config) privacy.Config {
	pc := cfg.Log.Privacy
	if cfg.Dnstap.Client != "" {
		pc.Client = cfg.Dnstap.Client
	}
	return pc
}

// applyClients hands g's client settings to its logs and dnstap. For
// what g shares with prev (a reload's unchanged logs), it is called again
// at the swap (reload.go): until then those keep the running settings.
func (g *generation) applyClients(prev *generation) {
	if prev == nil {
		prev = &generation{}
	}
	if g.blog != prev.blog {
		g.blog.SetClients(g.clients.blocked)
	}
	if g.obs != nil && g.obs != prev.obs {
		if g.obs.qlog != nil {
			g.obs.qlog.SetClients(g.clients.queries)
		}
		if g.obs.tap != nil {
			g.obs.tap.SetClients(g.clients.dnstap)
		}
	}
}
