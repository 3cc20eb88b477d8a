package pipeline

import "github.com/bulwark-dns/bulwark/resolver/query"

// SetBlockSink installs s (nil: none). Call it before the policy serves.
func (p *Policy) SetBlockSink(s query.BlockSink) { p.sink = s }
