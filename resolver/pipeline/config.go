package pipeline

import (
	"time"

	"github.com/bulwark-dns/bulwark/internal/cfgerr"
)

// BlockingConfig is the `blocking:` section: how synthesized block answers
// look.
type BlockingConfig struct {
	// TTL of synthesized records and of the SOA in negative block answers,
	// which bounds how long clients cache a block after a list change.
	TTL time.Duration `yaml:"ttl"`
}

// SetDefaults fills in unset values.
func (c *BlockingConfig) SetDefaults() {
	if c.TTL == 0 {
		c.TTL = 60 * time.Second
	}
}

// Validate reports every invalid value in the section.
func (c *BlockingConfig) Validate(path string) []error {
	if c.TTL < time.Second || c.TTL > 24*time.Hour {
		return []error{cfgerr.New(cfgerr.Join(path, "ttl"), "%s is outside 1s-24h", c.TTL)}
	}
	return nil
}
