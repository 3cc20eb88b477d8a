package feeds

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"time"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// feedSpec is one configured list, resolved once: its place in the merged
// index space, its source and its effective settings. It is immutable.
type feedSpec struct {
	cfg      ListConfig
	allow    bool
	index    uint16
	category uint16
	// info is the list's blocklist.ListInfo without Entries.
	info    blocklist.ListInfo
	src     Source
	refresh time.Duration // 0: never refreshed (builtin lists)
	timeout time.Duration
	maxSize int64
	// maxEntries refuses a copy with more rules (0: no limit).
	maxEntries int
	minRatio   float64
	// tagCats maps a threat-intelligence tag (lower case) to the category
	// index its rules get instead of category (intel.go).
	tagCats map[string]uint16
}

// specEnv is what resolving sources needs.
type specEnv struct {
	baseDir   string
	builtin   fs.FS
	client    *http.Client
	userAgent string
}

// buildSpecs validates the lists and resolves them in config order: block
// lists first (Payload.List = 0, 1, ...), then allow lists. cfg must have
// its defaults set.
func buildSpecs(cfg *Config, blocks, allows []ListConfig, env specEnv) ([]*feedSpec, []string, error) {
	if errs := ValidateLists(blocks, allows); len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	var specs []*feedSpec
	var categories []string
	var serr []error
	catIndex := map[string]uint16{}
	add := func(c ListConfig, allow bool) {
		sp := &feedSpec{cfg: c, allow: allow, index: uint16(len(specs))}
		cat := c.Category
		if cat == "" {
			cat = c.Name
		}
		intern := func(cat string) uint16 {
			ci, ok := catIndex[cat]
			if !ok {
				ci = uint16(len(categories)) // < maxLists: one per list, plus tag_categories (bounded)
				catIndex[cat] = ci
				categories = append(categories, cat)
			}
			return ci
		}
		sp.category = intern(cat)
		sp.tagCats = tagCategoryIndex(c.TagCategories, intern)
		sp.info = blocklist.ListInfo{Name: c.Name, Allow: allow, Source: redactSource(c.Source), LogOnly: c.LogOnly && !allow}
		if !allow {
			sp.info.Action, _ = blocklist.ParseAction(c.Action) // validated; "" is nxdomain
			for _, s := range c.Sinkhole {
				a, _ := parseSinkhole(s) // validated
				sp.info.Sinkhole = append(sp.info.Sinkhole, a)
			}
		}
		sp.refresh, sp.timeout, sp.maxSize, sp.minRatio = c.Refresh, c.Timeout, int64(c.MaxSize), 0
		if sp.refresh == 0 {
			sp.refresh = cfg.Refresh
		}
		if sp.timeout == 0 {
			sp.timeout = cfg.Timeout
		}
		if sp.maxSize == 0 {
			sp.maxSize = int64(cfg.MaxSize)
		}
		if sp.maxEntries = c.MaxEntries; sp.maxEntries == 0 {
			sp.maxEntries = cfg.MaxEntries
		}
		switch {
		case c.MinRatio != nil:
			sp.minRatio = *c.MinRatio
		case cfg.MinRatio != nil:
			sp.minRatio = *cfg.MinRatio
		}
		scheme, rest, _ := splitSource(c.Source) // validated
		switch scheme {
		case schemeBuiltin:
			sp.src, sp.refresh = fsSource{fsys: env.builtin, name: rest}, 0
		case schemeFile:
			sp.src = fileSource{path: resolveFile(rest, env.baseDir)}
		case schemeAXFR:
			u, _ := parseXfrURL(rest) // validated
			key, err := resolveTSIG(c.TSIG, env.baseDir)
			if err != nil {
				serr = append(serr, fmt.Errorf("%s %q: %w", map[bool]string{false: "blocklist", true: "allowlist"}[allow], c.Name, err))
			}
			sp.cfg.Format = FormatRPZ
			sp.src = newXfrSource(c, u, key, sp.maxSize)
		default:
			sp.src = &httpSource{url: rest, shown: redactURL(rest), client: env.client, userAgent: env.userAgent,
				headers: c.Headers, baseDir: env.baseDir, maxSize: sp.maxSize}
		}
		if src := intelSource(c, sp, env); src != nil { // TAXII, MISP feed or API (intelconfig.go)
			sp.src = src
		}
		specs = append(specs, sp)
	}
	for _, c := range blocks {
		add(c, false)
	}
	for _, c := range allows {
		add(c, true)
	}
	if len(serr) > 0 {
		return nil, nil, errors.Join(serr...)
	}
	return specs, categories, nil
}
