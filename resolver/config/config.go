// Package config is Bulwark's root configuration: it decodes the YAML file
// strictly, lets each package validate its own section, and reports every
// mistake at once with the line it is on.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/bulwark-dns/bulwark/feeds"
	"github.com/bulwark-dns/bulwark/feeds/sightings"
	"github.com/bulwark-dns/bulwark/internal/cfgerr"
	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/resolver"
	"github.com/bulwark-dns/bulwark/resolver/cache"
	"github.com/bulwark-dns/bulwark/resolver/dnssec"
	"github.com/bulwark-dns/bulwark/resolver/dnstap"
	"github.com/bulwark-dns/bulwark/resolver/logs"
	"github.com/bulwark-dns/bulwark/resolver/pipeline"
	"github.com/bulwark-dns/bulwark/resolver/recursive"
	"github.com/bulwark-dns/bulwark/resolver/tenant"
	"github.com/bulwark-dns/bulwark/resolver/upstream"
)

// Config is the whole file. Each section belongs to the package that uses
// it; keys are a contract with operators and scripts: extend, don't rename.
type Config struct {
	Listen     resolver.ListenConfig    `yaml:"listen"`
	Upstream   upstream.Config          `yaml:"upstream"`
	Recursion  recursive.Config         `yaml:"recursion"`
	Cache      cache.Config             `yaml:"cache"`
	DNSSEC     dnssec.Config            `yaml:"dnssec"`
	Blocking   pipeline.BlockingConfig  `yaml:"blocking"`
	ACL        pipeline.ACLConfig       `yaml:"acl"`
	RateLimit  pipeline.RateLimitConfig `yaml:"ratelimit"`
	Chaos      pipeline.ChaosConfig     `yaml:"chaos"`
	Blocklists []feeds.ListConfig       `yaml:"blocklists"`
	Allowlists []feeds.ListConfig       `yaml:"allowlists"`
	Feeds      feeds.Config             `yaml:"feeds"`
	Log        logs.Config              `yaml:"log"`
	Dnstap     dnstap.Config            `yaml:"dnstap"`
	Admin      AdminConfig              `yaml:"admin"`
	Tenants    []tenant.Config          `yaml:"tenants"`
	TenantECS  tenant.ECSConfig         `yaml:"tenant_ecs"`
	Sightings  sightings.Config         `yaml:"sightings"`
	Runtime    RuntimeConfig            `yaml:"runtime"`
	Testing    clock.Config             `yaml:"testing"`
}

// Error is one problem found in a config file, located by line when known.
type Error struct {
	File string
	Line int // 0 if unknown
	Err  error
}

// Error implements error: "file:line: path: message".
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Errors is every problem found in one file.
type Errors []*Error

// Error implements error, one problem per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Parse decodes and validates data (the contents of file, which is only
// used in messages). On failure the error is an Errors listing every
// problem: unknown keys, wrong types and invalid values.
func Parse(data []byte, file string) (*Config, error) {
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, decodeErrors(file, err)
	}
	// A second document in the file is almost certainly a mistake.
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, Errors{{File: file, Line: extra.Line, Err: errors.New("more than one YAML document; Bulwark reads one")}}
	}
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	restoreNullActions(&root, &cfg)
	cfg.SetDefaults()
	if errs := cfg.Validate(); len(errs) > 0 {
		out := make(Errors, 0, len(errs))
		for _, err := range errs {
			line := 0
			if p, ok := cfgerr.Path(err); ok {
				line = lineOf(&root, p)
			}
			out = append(out, &Error{File: file, Line: line, Err: err})
		}
		return nil, out
	}
	return &cfg, nil
}

// SetDefaults fills every section's unset values.
func (c *Config) SetDefaults() {
	c.Listen.SetDefaults()
	c.Upstream.SetDefaults()
	c.Recursion.SetDefaults()
	c.Cache.SetDefaults()
	c.DNSSEC.SetDefaults()
	c.Blocking.SetDefaults()
	c.ACL.SetDefaults()
	c.RateLimit.SetDefaults()
	c.Feeds.SetDefaults()
	c.Log.SetDefaults()
	c.Dnstap.SetDefaults()
	c.Sightings.SetDefaults()
	c.Runtime.SetDefaults()
}

// Validate asks every section to validate itself and returns all errors.
func (c *Config) Validate() []error {
	var errs []error
	errs = append(errs, c.Listen.Validate("listen")...)
	errs = append(errs, c.Upstream.Validate("upstream")...)
	errs = append(errs, c.Recursion.Validate("recursion")...)
	errs = append(errs, c.Cache.Validate("cache")...)
	errs = append(errs, c.DNSSEC.Validate("dnssec")...)
	errs = append(errs, c.Blocking.Validate("blocking")...)
	errs = append(errs, c.ACL.Validate("acl")...)
	errs = append(errs, c.RateLimit.Validate("ratelimit")...)
	errs = append(errs, feeds.ValidateLists(c.Blocklists, c.Allowlists)...)
	errs = append(errs, c.Feeds.Validate("feeds")...)
	errs = append(errs, c.Log.Validate("log", clientModes(c)...)...)
	errs = append(errs, c.Dnstap.Validate("dnstap")...)
	errs = append(errs, c.Admin.Validate("admin")...)
	errs = append(errs, tenant.Validate("tenants", c.Tenants, listRefs(c.Blocklists, c.Allowlists))...)
	errs = append(errs, c.TenantECS.Validate("tenant_ecs")...)
	errs = append(errs, c.Sightings.Validate("sightings")...)
	errs = append(errs, c.Runtime.Validate("runtime")...)
	errs = append(errs, c.Testing.Validate("testing")...)
	return errs
}

// listRefs names the configured lists in index order (block lists, then
// allow lists), as tenants refer to them.
func listRefs(blocks, allows []feeds.ListConfig) []tenant.ListRef {
	var out []tenant.ListRef
	for _, l := range blocks {
		out = append(out, tenant.ListRef{Name: l.Name, Sinkhole: len(l.Sinkhole) > 0})
	}
	for _, l := range allows {
		out = append(out, tenant.ListRef{Name: l.Name, Allow: true})
	}
	return out
}

// restoreNullActions undoes a YAML trap: `action: null` (the documented
// action answering 0.0.0.0) is YAML's null, which would decode as "" and
// silently become the default action.
func restoreNullActions(root *yaml.Node, cfg *Config) {
	doc := root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		doc = doc.Content[0]
	}
	for _, sec := range []struct {
		key   string
		lists []feeds.ListConfig
	}{{"blocklists", cfg.Blocklists}, {"allowlists", cfg.Allowlists}} {
		seq := mapValue(doc, sec.key)
		if seq == nil || seq.Kind != yaml.SequenceNode {
			continue
		}
		for i, item := range seq.Content {
			if i >= len(sec.lists) {
				break
			}
			if v := mapValue(item, "action"); v != nil && v.ShortTag() == "!!null" && strings.EqualFold(v.Value, "null") {
				sec.lists[i].Action = "null"
			}
		}
	}
}

// decodeErrors turns yaml.v3's errors ("line 3: field x not found in type
// y") into Errors, one per problem.
func decodeErrors(file string, err error) Errors {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		out := make(Errors, 0, len(te.Errors))
		for _, msg := range te.Errors {
			line, rest := splitLine(msg)
			out = append(out, &Error{File: file, Line: line, Err: errors.New(rest)})
		}
		return out
	}
	line, rest := splitLine(strings.TrimPrefix(err.Error(), "yaml: "))
	return Errors{{File: file, Line: line, Err: errors.New(rest)}}
}

// splitLine splits "line 12: message" into 12 and "message".
func splitLine(msg string) (int, string) {
	var line int
	if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		if i := strings.Index(msg, ": "); i >= 0 {
			return line, msg[i+2:]
		}
	}
	return 0, msg
}

// lineOf finds the line of the YAML node at path ("blocklists[2].action"),
// or of the deepest existing parent when the key is absent (a missing
// required key is reported where its section is).
func lineOf(root *yaml.Node, path string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, part := range strings.Split(path, ".") {
		key, idx := part, -1
		if i := strings.IndexByte(part, '['); i >= 0 && strings.HasSuffix(part, "]") {
			key = part[:i]
			if _, err := fmt.Sscanf(part[i:], "[%d]", &idx); err != nil {
				idx = -1
			}
		}
		next := mapValue(n, key)
		if next == nil {
			return line
		}
		n, line = next, next.Line
		if idx >= 0 {
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				return line
			}
			n = n.Content[idx]
			line = n.Line
		}
	}
	return line
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// clientModes are the client log modes of dnstap and the tenants, which
// use the log section's privacy parameters.
func clientModes(c *Config) []string {
	modes := []string{c.Dnstap.Client}
	for _, t := range c.Tenants {
		modes = append(modes, t.Log.Client)
	}
	return modes
}
