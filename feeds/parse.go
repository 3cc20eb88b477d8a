package feeds

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// maxSamples is how many rejected lines per list a Report keeps and the
// log shows; the rest are only counted.
const maxSamples = 5

// feedCopy is one parsed version of one list: its rules, ready to merge,
// and what parsing found. It is immutable once built, so the merged table
// can be rebuilt from it at any time without parsing again.
type feedCopy struct {
	rules ruleSet
	// lines[i] is the line rules[i] came from, for explain (4 bytes a
	// rule; the names themselves cost far more).
	lines []uint32
	// addrs holds the RPZ local-data address sets of this copy; a rule
	// with Payload.Data d > 0 answers addrs[d-1].
	addrs [][]netip.Addr
	// local, when not nil, is parallel to addrs: the local data of
	// ActionLocal rules (triggers.go).
	local [][]blocklist.LocalRR
	// The rules of the RPZ triggers other than the query name.
	nets       []netTrigger
	nsnames    []blocklist.Rule
	report     Report
	validators Validators
	fetched    time.Time // when this content was read from its source
	bytes      int64     // size as downloaded or read

	// meta is per rule (parallel to rules) for threat-intelligence
	// formats only, nil otherwise (intel.go).
	meta []ruleMeta
}

// gzipMagic starts every gzip stream (RFC 1952).
var gzipMagic = []byte{0x1f, 0x8b}

// parseCopy reads one list (gzip-compressed or not; the format configured
// or detected) into a feedCopy for sp. where names the source in errors
// and logs. Bad lines are counted in the report and the first few logged;
// only a read error, a corrupt gzip stream, an oversized list or an HTML
// page (a portal or error page served with status 200) fail.
func parseCopy(ctx context.Context, sp *feedSpec, r io.Reader, where string, log *slog.Logger) (*feedCopy, error) {
	fail := func(err error) (*feedCopy, error) {
		return nil, fmt.Errorf("reading %s: %w", where, unwrapPath(err))
	}
	tooMany := false // past max_entries
	raw := bufio.NewReaderSize(ctxReader{ctx: ctx, r: r}, 64<<10)
	var in io.Reader = raw
	if head, err := raw.Peek(len(gzipMagic)); bytes.Equal(head, gzipMagic) {
		zr, err := gzip.NewReader(raw)
		if err != nil {
			return fail(fmt.Errorf("gzip: %w", err))
		}
		in = newLimitReader(gzipErrs{zr}, sp.maxSize)
	} else if err != nil && !errors.Is(err, io.EOF) {
		return fail(err)
	}
	// Past max_entries the rest of the list is not even read.
	in = stopReader{r: in, stop: func() bool { return tooMany }}
	br := bufio.NewReaderSize(in, MaxLineLen)
	peek, err := br.Peek(MaxLineLen)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return fail(err)
	}
	if looksHTML(peek) {
		return fail(errors.New("got an HTML page, not a list (an error or login page?)"))
	}
	name := sp.cfg.Format
	lookup := LookupFormat
	if name == "" || name == FormatAuto {
		name, lookup = DetectFormat(peek), autoParser // line by line (auto.go)
	}
	format, ok := lookup(name)
	if !ok { // validated; only reachable if Validate and formats disagree
		return fail(fmt.Errorf("unknown format %q", name))
	}

	c := &feedCopy{}
	rep := &c.report
	*rep = Report{List: sp.info.Name, Source: where, Format: format.Name(), Rejected: map[string]int{}, SkippedBy: map[string]int{}}
	payload := blocklist.Payload{List: sp.index, Category: sp.category, Action: sp.info.Action}
	addrIndex := map[string]uint32{}
	var (
		rules ruleSetBuilder
		lines chunks[uint32]
	)
	tooLarge := false
	var reject func(LineError)
	emit := func(e Entry) {
		if !sp.cfg.AllowBroad && broadEntry(e) { // allow_broad (trust.go)
			reject(broadError(e))
			return
		}
		e = sp.override(e) // action_override (policy.go)
		p, allow := payload, sp.allow || e.Allow
		if !allow {
			if e.HasAction {
				p.Action = e.Action
			}
			p.Data = c.addData(e, p.Action, addrIndex)
		}
		if tooMany || tooLarge {
			return
		}
		if sp.maxEntries > 0 && rules.len()+c.triggerCount() >= sp.maxEntries {
			tooMany = true // stop.Read ends the parse
			return
		}
		if e.Trigger != blocklist.TriggerQName {
			c.addTrigger(e, allow, p)
			return
		}
		if !rules.add(blocklist.Rule{Name: e.Name, Scope: e.Scope, Allow: allow, Payload: p}) {
			tooLarge = true
			return
		}
		lines.add(uint32(e.Line), 4)
		c.noteIntel(sp, e.Intel, lines.len())
	}
	skippedLogged := 0
	reject = func(e LineError) {
		e.List, e.File = sp.info.Name, where
		if e.Skipped {
			rep.SkippedBy[e.Reason]++
			rep.Skipped++
			if skippedLogged < maxSamples {
				skippedLogged++
				log.Debug("feed line skipped", "feed", e.List, "source", e.File, "line", e.Line, "text", e.Text, "reason", e.Reason)
			}
			return
		}
		rep.Rejected[e.Reason]++
		if len(rep.Samples) < maxSamples {
			rep.Samples = append(rep.Samples, e)
			log.Warn("feed line rejected", "feed", e.List, "source", e.File, "line", e.Line, "text", e.Text, "reason", e.Reason)
		}
	}
	st, err := format.Parse(br, emit, reject)
	switch {
	case tooMany:
		return fail(fmt.Errorf("more than max_entries (%d) entries; refused as a whole (raise the list's max_entries or feeds.max_entries if it is genuine)", sp.maxEntries))
	case err != nil:
		return fail(fmt.Errorf("line %d: %w", st.Lines+1, unwrapPath(err)))
	case tooLarge:
		return fail(fmt.Errorf("over 4 GiB of rule names after %d rules", rules.len()))
	}
	c.rules = rules.finish()
	c.lines = lines.collect()
	rep.Lines, rep.Entries, rep.Approximated = st.Lines, c.rules.len()+c.triggerCount(), st.Approximated
	rep.Triggers = c.triggerKinds()
	if st.Skipped > 0 {
		rep.Skipped += st.Skipped
		rep.SkippedBy[reasonBoilerplate] += st.Skipped
	}
	return c, nil
}

// reasonBoilerplate is the SkippedBy key of hosts-file localhost entries.
const reasonBoilerplate = "hosts boilerplate"

// looksHTML reports whether a list starts like an HTML document.
func looksHTML(peek []byte) bool {
	peek = bytes.TrimLeft(bytes.TrimPrefix(peek, utf8BOM), " \t\r\n")
	return hasPrefixFold(peek, "<!doctype html") || hasPrefixFold(peek, "<html")
}

// errStopped ends the read of a list that passed max_entries.
var errStopped = errors.New("stopped: too many entries")

// stopReader fails once stop says so, so that a parser stops reading.
type stopReader struct {
	r    io.Reader
	stop func() bool
}

func (s stopReader) Read(p []byte) (int, error) {
	if s.stop() {
		return 0, errStopped
	}
	return s.r.Read(p)
}

// gzipErrs names gzip as the culprit of a corrupt or truncated stream.
type gzipErrs struct{ r io.Reader }

func (g gzipErrs) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("gzip: %w", err)
	}
	return n, err
}
