package clock

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// File is a clock for external test suites, which move a resolver's time
// the way libfaketime does: by writing "@YYYY-MM-DD HH:MM:SS" (UTC) to a
// file. Go programs ignore libfaketime, so the config key
// testing.clock_file selects this clock instead. Now is the time in the
// file plus the monotonic time elapsed since the file's content last
// changed; before the file holds a valid time, Now is the wall clock.
//
// It is for tests only: it reads the file at most every pollEvery, so a
// change takes effect within that.
type File struct {
	path string

	mu       sync.Mutex
	content  []byte
	base     time.Time // the file's time
	since    time.Time // when that content was first seen (monotonic)
	valid    bool
	nextPoll time.Time
	err      error
}

const pollEvery = 50 * time.Millisecond

// NewFile returns a File clock reading path. The file must exist and hold
// a valid time, so that a mistyped path fails at start rather than
// silently running on the wall clock.
func NewFile(path string) (*File, error) {
	f := &File{path: path}
	f.poll(time.Now())
	if f.err != nil {
		return nil, f.err
	}
	if !f.valid {
		return nil, fmt.Errorf("%s holds no time", path)
	}
	return f, nil
}

// Now returns the file's time advanced by the time since it was written.
func (f *File) Now() time.Time {
	real := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if !real.Before(f.nextPoll) {
		f.poll(real)
	}
	if !f.valid {
		return real
	}
	return f.base.Add(real.Sub(f.since))
}

// poll rereads the file; f.mu is held (or f not yet shared).
func (f *File) poll(real time.Time) {
	f.nextPoll = real.Add(pollEvery)
	b, err := os.ReadFile(f.path)
	if err != nil {
		// Keep the last time: a file being rewritten may be missing for
		// an instant.
		f.err = err
		return
	}
	f.err = nil
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, f.content) {
		return
	}
	t, err := ParseFaketime(string(b))
	if err != nil {
		f.err = fmt.Errorf("%s: %w", f.path, err)
		return
	}
	f.content = append(f.content[:0], b...)
	f.base, f.since, f.valid = t, real, true
}

// ParseFaketime parses libfaketime's absolute start time,
// "@YYYY-MM-DD HH:MM:SS", as UTC.
func ParseFaketime(s string) (time.Time, error) {
	v, ok := strings.CutPrefix(strings.TrimSpace(s), "@")
	if !ok {
		return time.Time{}, fmt.Errorf("%q is not of the form @YYYY-MM-DD HH:MM:SS", s)
	}
	t, err := time.Parse(time.DateTime, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not of the form @YYYY-MM-DD HH:MM:SS", s)
	}
	return t, nil
}
