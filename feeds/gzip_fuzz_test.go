package feeds

import (
	"bytes"
	"compress/gzip"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// FuzzParseGzip holds the gzip path of list parsing (parseCopy) to the
// plain one: a list compressed parses to exactly the rules of the list as
// it is, or fails where the plain list fails; a list whose decompressed
// size passes max_size fails (a gzip bomb is an error, never a cut list);
// a compressed stream cut short or corrupted fails rather than yield
// the part before the damage as a smaller list.
func FuzzParseGzip(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), uint16(0), byte(0))
	}
	f.Add([]byte(strings.Repeat("a.example\n", 1000)), uint16(0), byte(0)) // past max_size once inflated
	f.Add([]byte("a.example\nb.example\nc.example\n"), uint16(20), byte(0))
	f.Add([]byte("a.example\nb.example\nc.example\n"), uint16(0), byte(17))
	f.Fuzz(func(t *testing.T, in []byte, cut uint16, flip byte) {
		const maxSize = 4096
		sp := &feedSpec{info: blocklist.ListInfo{Name: "fuzz"}, cfg: ListConfig{Format: FormatAuto}, maxSize: maxSize, maxEntries: 500}
		log := slog.New(slog.DiscardHandler)
		parse := func(b []byte) (*feedCopy, error) {
			return parseCopy(context.Background(), sp, bytes.NewReader(b), "fuzz", log)
		}
		var zb bytes.Buffer
		zw := gzip.NewWriter(&zb)
		_, _ = zw.Write(in)
		_ = zw.Close()
		zipped := zb.Bytes()

		switch {
		case cut >= 2 && int(cut) < len(zipped):
			if _, err := parse(zipped[:cut]); err == nil {
				t.Fatalf("a gzip stream cut at %d of %d bytes parsed without error", cut, len(zipped))
			}
			return
		case flip != 0:
			// A flipped bit anywhere past the magic: an error, or (the
			// CRC and length both check out) the same rules as the plain
			// list; never a panic.
			damaged := append([]byte(nil), zipped...)
			damaged[2+int(flip)%(len(damaged)-2)] ^= 1 << (flip % 8)
			_, _ = parse(damaged)
			return
		}
		z, errZ := parse(zipped)
		if len(in) > maxSize {
			if errZ == nil {
				t.Fatalf("%d bytes inflated past max_size %d without error", len(in), maxSize)
			}
			return
		}
		if bytes.HasPrefix(in, gzipMagic) {
			return // the plain input is itself taken for gzip
		}
		p, errP := parse(in)
		if (errP == nil) != (errZ == nil) {
			t.Fatalf("plain: %v; gzip: %v", errP, errZ)
		}
		if errP != nil {
			return
		}
		if p.rules.len() != z.rules.len() || p.report.Lines != z.report.Lines {
			t.Fatalf("plain: %d rules of %d lines; gzip: %d of %d", p.rules.len(), p.report.Lines, z.rules.len(), z.report.Lines)
		}
		for i := 0; i < p.rules.len(); i++ {
			if a, b := p.rules.at(i), z.rules.at(i); a.Name != b.Name || a.Scope != b.Scope || a.Allow != b.Allow {
				t.Fatalf("rule %d: plain %+v, gzip %+v", i, a, b)
			}
		}
	})
}
