package feeds

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"net/netip"
	"runtime"
	"time"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// maxSamples is how many rejected lines per list a Report keeps and the
// log shows; the rest are only counted.
const maxSamples = 5

// feedCopy is one parsed version of one list: its rules compiled into a
// set of their own, ready to merge, and what parsing found. It is
// immutable once built, so the merged table can be rebuilt from it at any
// time without parsing again. A plain list's rules themselves are not
// kept: the set holds each name's deciding rule in a tenth of the memory,
// and explain reads the rules again from the list's text on disk
// (textOf). Threat-intelligence lists (STIX, MISP) are the exception:
// each rule carries what no set holds (the object it came from, its own
// category, when it applies), so their rules are kept as rules, with that
// side table, and compiled only when the table is merged (intel.go).
type feedCopy struct {
	// set is the compiled list; nil for a threat-intelligence copy, whose
	// rules are in rules.
	set *blocklist.Set
	// entries is the number of rules the copy contributed (a name listed
	// twice counts twice), for min_ratio, max_entries, reports and metrics.
	entries int
	// list and category are the Payload.List and Payload.Category the set
	// was compiled with; merge rewrites them when the list's place in the
	// config is another.
	list, category uint16
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
	// text reopens the exact text the copy was parsed from, for explain;
	// nil when there is none to read (an HTTP list without a disk cache).
	text *textRef
	// textSum is the hash of the text, as read (newTextSum, xxHash64), of
	// a copy just parsed from it ("" for one loaded from a snapshot): its
	// snapshot's key.
	textSum string

	// For threat-intelligence copies only (set nil): the rules, the line
	// each came from, and meta, per rule, its object (intel.go).
	rules ruleSet
	lines []uint32
	meta  []ruleMeta
}

// intelFormat reports whether a format's rules carry per-rule metadata
// and are therefore kept as rules rather than compiled (feedCopy).
func intelFormat(name string) bool { return name == FormatSTIX || name == FormatMISP }

// gzipMagic starts every gzip stream (RFC 1952).
var gzipMagic = []byte{0x1f, 0x8b}

// parseCopy reads one list (gzip-compressed or not; the format configured
// or detected) into a feedCopy for sp. where names the source in errors
// and logs. Bad lines are counted in the report and the first few logged;
// only a read error, a corrupt gzip stream, an oversized list, one past
// max_entries or an HTML page (a portal or error page served with status
// 200) fail.
func parseCopy(ctx context.Context, sp *feedSpec, r io.Reader, where string, log *slog.Logger) (*feedCopy, error) {
	hint := int(sizeHint(r) / bytesPerRule)
	if sp.maxEntries > 0 {
		hint = min(hint, sp.maxEntries)
	}
	bp := startBuild(hint)
	defer bp.stop()
	var (
		rules ruleSetBuilder // threat-intelligence formats only
		lines chunks[uint32]
	)
	c, err := parseRules(ctx, sp, r, where, log, func(c *feedCopy, rule blocklist.Rule, e ruleOrigin) error {
		if !intelFormat(c.report.Format) {
			bp.add(rule)
			return nil
		}
		if !rules.add(rule) {
			return fmt.Errorf("over 4 GiB of rule names after %d rules", rules.len())
		}
		lines.add(uint32(e.Line), 4)
		c.noteIntel(sp, e.Intel, lines.len())
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.list, c.category = sp.index, sp.category
	if intelFormat(c.report.Format) {
		c.rules, c.lines = rules.finish(), lines.collect()
		return c, nil
	}
	b, dropped := bp.stop()
	if dropped > 0 { // parsers emit canonical names: a parser bug
		c.entries -= dropped
		c.report.Entries -= dropped
		c.report.Rejected[ReasonInvalidName] += dropped
		log.Error("feed rules refused by the blocklist builder (a parser bug)", "feed", sp.info.Name, "rules", dropped)
	}
	if c.set, err = b.Finish(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", where, err)
	}
	return c, nil
}

// buildBatch is how many rules the parser hands the builder at a time.
const buildBatch = 2048

// buildPipe feeds a Builder on a goroutine of its own, so that parsing a
// list (reading, canonical names, the public-suffix check) and inserting
// its names into the trie use both cores; the rules keep their order. A
// few batches in flight bound what it holds. With one P (GOMAXPROCS 1, as
// a process pinned to one CPU gets) there is no second core to use: the
// pipe adds each rule itself, as the batches' copies and the goroutine
// switches only cost.
type buildPipe struct {
	b       *blocklist.Builder
	direct  bool // one P: add to b in place, no goroutine
	batch   []blocklist.Rule
	full    chan []blocklist.Rule
	free    chan []blocklist.Rule
	done    chan struct{}
	dropped int
	stopped bool
}

func startBuild(hint int) *buildPipe {
	p := &buildPipe{b: blocklist.NewBuilder(), direct: runtime.GOMAXPROCS(0) == 1}
	// Reserve the builder's tables once rather than doubling them through
	// millions of names: about one rule per bytesPerRule of text.
	p.b.Grow(hint)
	if p.direct {
		return p
	}
	p.full, p.free, p.done = make(chan []blocklist.Rule, 4), make(chan []blocklist.Rule, 6), make(chan struct{})
	go func() {
		defer close(p.done)
		for batch := range p.full {
			for _, r := range batch {
				if p.b.Add(r) != nil {
					p.dropped++
				}
			}
			clear(batch)
			select {
			case p.free <- batch[:0]:
			default:
			}
		}
	}()
	return p
}

// add queues r for the builder (adds it, with one P).
func (p *buildPipe) add(r blocklist.Rule) {
	if p.direct {
		if p.b.Add(r) != nil {
			p.dropped++
		}
		return
	}
	if p.batch == nil {
		select {
		case p.batch = <-p.free:
		default:
			p.batch = make([]blocklist.Rule, 0, buildBatch)
		}
	}
	p.batch = append(p.batch, r)
	if len(p.batch) == buildBatch {
		p.full <- p.batch
		p.batch = nil
	}
}

// stop hands over the last batch, waits for the builder and returns it
// with the number of rules it refused. It may be called again.
func (p *buildPipe) stop() (*blocklist.Builder, int) {
	if !p.stopped && !p.direct { // a direct pipe has no goroutine or batches
		p.stopped = true
		if len(p.batch) > 0 {
			p.full <- p.batch
		}
		close(p.full)
		<-p.done
		// The spare batches (half a megabyte) would otherwise live
		// through the build, at its peak: nothing adds any more.
		for len(p.free) > 0 {
			<-p.free
		}
		p.batch = nil
	}
	return p.b, p.dropped
}

// ruleOrigin is what a keeper of parseRules learns of a rule beyond the
// Rule itself: the fields of its Entry that keepers read (the line, for
// explain and the threat-intelligence side table; the RPZ addresses; the
// intel object). It is passed by value: a pointer to the whole Entry
// (about 150 bytes) meant a copy of it per rule, as a pointer to each
// entry itself would move every one to the heap.
type ruleOrigin struct {
	Line  int
	Addrs []netip.Addr
	Intel *IntelRef
}

// parseRules is parseCopy's reading and parsing, with allow_broad,
// action_override and max_entries applied: it hands every rule to keep,
// with where it came from, and returns the copy without its rules. An
// error from keep fails the list.
func parseRules(ctx context.Context, sp *feedSpec, r io.Reader, where string, log *slog.Logger, keep func(*feedCopy, blocklist.Rule, ruleOrigin) error) (*feedCopy, error) {
	fail := func(err error) (*feedCopy, error) {
		return nil, fmt.Errorf("reading %s: %w", where, unwrapPath(err))
	}
	tooMany := false  // past max_entries
	var keepErr error // keep failed the list
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
	in = stopReader{r: in, stop: func() bool { return tooMany || keepErr != nil }}
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
	var reject func(LineError)
	emit := func(e Entry) {
		if !sp.cfg.AllowBroad && broadEntry(&e) { // allow_broad (trust.go)
			reject(broadError(e))
			return
		}
		sp.override(&e) // action_override (policy.go)
		p, allow := payload, sp.allow || e.Allow
		if !allow {
			if e.HasAction {
				p.Action = e.Action
			}
			if len(e.Addrs) > 0 || len(e.Local) > 0 { // else none: the call is a tenth of emit
				p.Data = c.addData(&e, p.Action, addrIndex)
			}
		}
		if tooMany || keepErr != nil {
			return
		}
		if sp.maxEntries > 0 && c.entries >= sp.maxEntries {
			tooMany = true // stop.Read ends the parse
			return
		}
		if e.Trigger != blocklist.TriggerQName { // rpz-client-ip, rpz-ip, ... (triggers.go)
			c.addTrigger(e, allow, p)
			c.entries++
			return
		}
		rule := blocklist.Rule{Name: e.Name, Scope: e.Scope, Allow: allow, Payload: p, Canon: e.canon}
		if keepErr = keep(c, rule, ruleOrigin{Line: e.Line, Addrs: e.Addrs, Intel: e.Intel}); keepErr == nil {
			c.entries++
		}
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
	case keepErr != nil:
		return fail(keepErr)
	case err != nil:
		return fail(fmt.Errorf("line %d: %w", st.Lines+1, unwrapPath(err)))
	}
	rep.Lines, rep.Entries, rep.Approximated = st.Lines, c.entries, st.Approximated
	rep.Triggers = c.triggerKinds()
	if st.Skipped > 0 {
		rep.Skipped += st.Skipped
		rep.SkippedBy[reasonBoilerplate] += st.Skipped
	}
	return c, nil
}

// bytesPerRule is the text a rule takes in a typical list: a domains or
// adblock line of a name is 15-25 bytes, a hosts line 25-35. An estimate
// above the truth only reserves memory the build frees at its end.
const bytesPerRule = 20

// sizeHint returns the size of the file under r's wrappers, or 0 when r
// is not (or not only) a file.
func sizeHint(r io.Reader) int64 {
	for {
		switch v := r.(type) {
		case *limitReader:
			r = v.r
		case *countingReader:
			r = v.r
		case *hashingReader:
			r = v.r
		case interface{ Stat() (fs.FileInfo, error) }:
			if fi, err := v.Stat(); err == nil && fi.Mode().IsRegular() {
				return fi.Size()
			}
			return 0
		default:
			return 0
		}
	}
}

// hashingReader feeds everything read through it to h.
type hashingReader struct {
	r io.Reader
	h hash.Hash
}

func (t *hashingReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.h.Write(p[:n])
	return n, err
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
