package feeds

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// maxSamples is how many rejected lines per list a Report keeps and the
// Loader logs; the rest are only counted.
const maxSamples = 5

// Loader reads every configured list and merges them into one Table. It
// holds no state between loads, so one Loader may serve every reload.
type Loader struct {
	// BaseDir is the directory of the config file; relative "file:" paths
	// resolve against it.
	BaseDir string
	// Builtin holds embedded lists for "builtin:" sources (may be nil).
	Builtin fs.FS
	// Logger receives the first few rejected lines per list (with list
	// name, file, line and reason) and a summary per list; nil discards.
	Logger *slog.Logger
}

// Report says what one list contributed, for `bulwark check`, logs and
// metrics.
type Report struct {
	List   string
	Source string
	// Format is the format used: the configured one, or the detected one
	// for auto.
	Format string
	// Lines is the number of lines read, blank and comment lines included.
	Lines int
	// Entries is the number of rules the list contributed. A name listed
	// twice counts twice: deduplicating a million-line list here would cost
	// more than the parse, and the Set keeps one rule per name and form.
	Entries int
	// Skipped counts names that are fine to ignore (hosts-file localhost
	// boilerplate). Blank and comment lines are not counted.
	Skipped int
	// Rejected maps a reason (the Reason* constants) to how many lines or
	// names it rejected. Never nil.
	Rejected map[string]int
	// Samples holds the first few rejections, in file order.
	Samples []LineError
}

// RejectedTotal sums Rejected.
func (r *Report) RejectedTotal() int {
	n := 0
	for _, c := range r.Rejected {
		n += c
	}
	return n
}

// listSpec is one list to load, with its place in the merged index space.
type listSpec struct {
	cfg   *ListConfig
	allow bool
	index uint16
}

// Load reads and parses every list in config order: block lists first
// (Payload.List = 0, 1, ...), then allow lists (indices continue), and
// builds one merged Table. An invalid config or a list that cannot be
// opened or read fails the whole load with an error naming the list and
// source; invalid lines only show up in that list's Report.
func (l *Loader) Load(ctx context.Context, blocks, allows []ListConfig) (*blocklist.Table, []Report, error) {
	if errs := ValidateLists(blocks, allows); len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	specs := make([]listSpec, 0, len(blocks)+len(allows))
	for i := range blocks {
		specs = append(specs, listSpec{cfg: &blocks[i], index: uint16(len(specs))})
	}
	for i := range allows {
		specs = append(specs, listSpec{cfg: &allows[i], allow: true, index: uint16(len(specs))})
	}

	b := blocklist.NewBuilder()
	t := &blocklist.Table{Lists: make([]blocklist.ListInfo, 0, len(specs))}
	catIndex := map[string]uint16{}
	reports := make([]Report, 0, len(specs))
	for _, sp := range specs {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		cat := sp.cfg.Category
		if cat == "" {
			cat = sp.cfg.Name
		}
		ci, ok := catIndex[cat]
		if !ok {
			ci = uint16(len(t.Categories)) // < maxLists: one category per list at most
			catIndex[cat] = ci
			t.Categories = append(t.Categories, cat)
		}
		info, rep, err := l.loadList(ctx, b, sp, ci)
		if err != nil {
			return nil, nil, err
		}
		t.Lists = append(t.Lists, info)
		reports = append(reports, rep)
	}
	set, err := b.Build()
	if err != nil {
		return nil, nil, fmt.Errorf("building the merged blocklist: %w", err)
	}
	t.Set = set
	return t, reports, nil
}

// loadList reads one list into b.
func (l *Loader) loadList(ctx context.Context, b *blocklist.Builder, sp listSpec, category uint16) (blocklist.ListInfo, Report, error) {
	c := sp.cfg
	log := l.logger().With("list", c.Name)
	info := blocklist.ListInfo{Name: c.Name, Allow: sp.allow, Source: c.Source}
	rep := Report{List: c.Name, Source: c.Source, Rejected: map[string]int{}}
	if !sp.allow {
		info.Action, _ = blocklist.ParseAction(c.Action) // validated; "" is nxdomain
		for _, s := range c.Sinkhole {
			a, _ := parseSinkhole(s) // validated
			info.Sinkhole = append(info.Sinkhole, a)
		}
	}
	fail := func(verb, src string, err error) (blocklist.ListInfo, Report, error) {
		return info, rep, fmt.Errorf("feed %q: %s %s: %w", c.Name, verb, src, err)
	}

	src, err := l.source(c.Source)
	if err != nil {
		return fail("opening", c.Source, err)
	}
	rc, err := src.Open(ctx)
	if err != nil {
		return fail("opening", src.String(), unwrapPath(err))
	}
	defer rc.Close()
	br := bufio.NewReaderSize(ctxReader{ctx: ctx, r: rc}, MaxLineLen)

	name := c.Format
	if name == "" || name == FormatAuto {
		peek, err := br.Peek(MaxLineLen)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			return fail("reading", src.String(), unwrapPath(err))
		}
		name = DetectFormat(peek)
	}
	format, ok := LookupFormat(name)
	if !ok { // validated; only reachable if Validate and formats disagree
		return fail("parsing", src.String(), fmt.Errorf("unknown format %q", name))
	}
	rep.Format = format.Name()

	payload := blocklist.Payload{List: sp.index, Category: category, Action: info.Action}
	entries := 0
	reject := func(e LineError) {
		e.List, e.File = c.Name, src.String()
		rep.Rejected[e.Reason]++
		if len(rep.Samples) < maxSamples {
			rep.Samples = append(rep.Samples, e)
			log.Warn("feed line rejected", "file", e.File, "line", e.Line, "text", e.Text, "reason", e.Reason)
		}
	}
	emit := func(e Entry) {
		err := b.Add(blocklist.Rule{Name: e.Name, Scope: e.Scope, Allow: sp.allow || e.Allow, Payload: payload})
		if err != nil { // parsers emit canonical names; keep going if the builder disagrees
			reject(LineError{Line: e.Line, Text: e.Name, Reason: ReasonInvalidName})
			return
		}
		entries++
	}
	st, err := format.Parse(br, emit, reject)
	if err != nil {
		return fail("reading", src.String(), fmt.Errorf("line %d: %w", st.Lines+1, unwrapPath(err)))
	}
	rep.Lines, rep.Skipped, rep.Entries = st.Lines, st.Skipped, entries
	info.Entries = rep.Entries
	log.Info("feed loaded", "source", src.String(), "format", rep.Format, "entries", rep.Entries,
		"skipped", rep.Skipped, "rejected", rep.RejectedTotal())
	return info, rep, nil
}

func (l *Loader) logger() *slog.Logger {
	if l.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l.Logger
}

// unwrapPath drops an *fs.PathError's repetition of the path, which the
// caller already names: "no such file or directory" rather than
// "open /x/y: no such file or directory".
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
