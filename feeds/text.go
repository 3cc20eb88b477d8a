package feeds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// textRef reopens the exact text a copy was parsed from. A copy keeps its
// rules compiled, not as text (the text of a million names is three times
// the compiled set); explain, which wants every rule of every list with
// its line, reads them again from here when asked. open fails with
// errTextChanged when the text on disk is no longer the copy's.
type textRef struct {
	where string
	open  func() (io.ReadCloser, error)
}

// errTextChanged says the text on disk is another version than the copy's.
var errTextChanged = errors.New("changed since it was loaded")

// localText is the textRef of a file or builtin list read with validators v.
func localText(sp *feedSpec, v Validators) *textRef {
	switch s := sp.src.(type) {
	case fileSource:
		return &textRef{where: s.String(), open: func() (io.ReadCloser, error) {
			fi, err := os.Stat(s.path)
			if err != nil {
				return nil, err
			}
			if fileStamp(fi) != v.Stamp {
				return nil, errTextChanged
			}
			return os.Open(s.path)
		}}
	case fsSource:
		return &textRef{where: s.String(), open: func() (io.ReadCloser, error) {
			resp, err := s.Fetch(context.Background(), Validators{})
			if err != nil {
				return nil, err
			}
			return resp.Body, nil
		}}
	}
	return nil
}

// cacheText is the textRef of a remote list's body in the disk cache,
// downloaded at fetched.
func cacheText(c *diskCache, sp *feedSpec, fetched time.Time) *textRef {
	if c == nil {
		return nil
	}
	return &textRef{where: "cache:" + c.base(sp.info.Name) + cacheBodyExt, open: func() (io.ReadCloser, error) {
		f, meta, err := c.open(sp.info.Name, sp.cfg.Source)
		if err != nil {
			return nil, err
		}
		if !meta.Fetched.Equal(fetched) {
			f.Close()
			return nil, errTextChanged
		}
		return f, nil
	}}
}

// fileStamp is a local file's validator: its size and modification time.
func fileStamp(fi os.FileInfo) string {
	return fmt.Sprintf("%d@%d", fi.Size(), fi.ModTime().UnixNano())
}

// matchText returns the rules of c that apply to the canonical name q,
// read again from c's text, with their lines; an error when the text is
// gone or not the copy's any more (the caller falls back to matchSet).
func (c *feedCopy) matchText(sp *feedSpec, q string, categories []string) ([]RuleMatch, error) {
	if c.text == nil {
		return nil, errors.New("no text on disk")
	}
	rc, err := c.text.open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var out []RuleMatch
	again, err := parseRules(context.Background(), sp, newLimitReader(rc, sp.maxSize), c.text.where, slog.New(slog.DiscardHandler),
		func(_ *feedCopy, rule blocklist.Rule, e ruleOrigin) error {
			if applies(rule.Name, rule.Scope, q) {
				m := c.ruleMatch(sp, rule.Name, rule.Scope, rule.Allow, rule.Payload.Action, categories)
				m.Line = e.Line
				if rule.Payload.Data != 0 {
					m.Addrs = e.Addrs
				}
				out = append(out, m)
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	if again.entries != c.entries { // not the text the copy was parsed from
		return nil, errTextChanged
	}
	return out, nil
}

// matchSet returns the rules of c's compiled set that apply to q: each
// name's deciding rule, without lines.
func (c *feedCopy) matchSet(sp *feedSpec, q string, categories []string) []RuleMatch {
	var out []RuleMatch
	c.set.Walk(q, func(bm blocklist.Match) {
		name := ""
		if bm.Offset < len(q) {
			name = q[bm.Offset:]
		}
		m := c.ruleMatch(sp, name, bm.Scope, bm.Allow, bm.Payload.Action, categories)
		if d := bm.Payload.Data; !bm.Allow && d > 0 && int(d) <= len(c.addrs) {
			m.Addrs = c.addrs[d-1]
		}
		out = append(out, m)
	})
	return out
}

// ruleMatch fills what a RuleMatch says about one rule of c.
func (c *feedCopy) ruleMatch(sp *feedSpec, name string, scope blocklist.Scope, allow bool, action blocklist.Action, categories []string) RuleMatch {
	m := RuleMatch{
		List: sp.info.Name, ListIndex: int(sp.index), AllowList: sp.allow, Allow: allow,
		Name: strings.Clone(name), Scope: scope, Source: c.report.Source, // name may be in a parse's nameArena
	}
	if int(sp.category) < len(categories) {
		m.Category = categories[sp.category]
	}
	if !allow {
		m.Action = action
		if m.Action == blocklist.ActionSinkhole {
			m.Addrs = sp.info.Sinkhole
		}
	}
	return m
}
