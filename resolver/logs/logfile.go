package logs

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/bulwark-dns/bulwark/resolver/logsink"
)

// LogFile is a log file opened for appending that can be reopened at the
// same path. logrotate (in its default `create` mode) renames the file and
// then signals the daemon; lines written until the reopen still land in the
// renamed file, lines written after it in the new one, and none is lost.
type LogFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// logFilePerm keeps logs of client addresses away from other users.
const logFilePerm = 0o640

// OpenLogFile opens (creating if needed) path for appending.
func OpenLogFile(path string) (*LogFile, error) {
	f, err := openAppend(path)
	if err != nil {
		return nil, err
	}
	return &LogFile{path: path, f: f}, nil
}

func openAppend(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, logFilePerm)
	if err != nil {
		return nil, fmt.Errorf("open log file: %w", err)
	}
	return f, nil
}

// Write appends p to the file currently open.
func (l *LogFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return 0, fmt.Errorf("log file %s: %w", l.path, os.ErrClosed)
	}
	return l.f.Write(p)
}

// Reopen opens the path anew and switches writes to it, then closes the
// old file. If the path cannot be opened, writes go on to the old file and
// the error says why (e.g. the directory's permissions changed).
func (l *LogFile) Reopen() error {
	f, err := openAppend(l.path)
	if err != nil {
		return err
	}
	l.mu.Lock()
	old := l.f
	if old == nil { // closed meanwhile: stay closed
		l.mu.Unlock()
		f.Close()
		return fmt.Errorf("log file %s: %w", l.path, os.ErrClosed)
	}
	l.f = f
	l.mu.Unlock()
	return old.Close()
}

// Close closes the file; later writes fail.
func (l *LogFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// OpenLogDest opens a log destination as configured: "off" (a nil writer:
// the log is off), "stdout", "stderr", or a file path (a *LogFile, which a
// log's Reopen reopens). close releases what was opened.
func OpenLogDest(dest string, stdout, stderr io.Writer) (w io.Writer, close func() error, err error) {
	switch dest {
	case "off", "":
		return nil, func() error { return nil }, nil
	case "stdout":
		return stdout, func() error { return nil }, nil
	case "stderr":
		return stderr, func() error { return nil }, nil
	}
	f, err := OpenLogFile(dest)
	if err != nil {
		return nil, nil, err
	}
	return f, f.Close, nil
}

// Open opens one log's destinations: dest as OpenLogDest opens it (a sink
// URL is left to sinks), and every sink, behind one writer that hands each
// batch to all of them. Sinks never block the writer and count their own
// drops; a file write failure is the log's, as before. close closes all.
func Open(dest string, sinks []logsink.Config, stdout, stderr io.Writer, m *logsink.Metrics, logger *slog.Logger) (io.Writer, func() error, error) {
	var fan fanout
	closeAll := func() error {
		for _, s := range fan.sinks {
			s.Close()
		}
		if fan.main != nil {
			return fan.closeMain()
		}
		return nil
	}
	if !logsink.IsURL(dest) {
		w, c, err := OpenLogDest(dest, stdout, stderr)
		if err != nil {
			return nil, nil, err
		}
		fan.main, fan.closeMain = w, c
	}
	for _, sc := range sinks {
		s, err := logsink.New(sc, m, logger)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("sink %s: %w", sc.Name, err)
		}
		fan.sinks = append(fan.sinks, s)
	}
	switch {
	case len(fan.sinks) == 0:
		return fan.main, closeAll, nil
	case fan.main == nil && len(fan.sinks) == 1:
		return fan.sinks[0], closeAll, nil
	}
	return &fan, closeAll, nil
}

// fanout writes each batch to the log's file (or stdout) and its sinks.
type fanout struct {
	main      io.Writer // nil: sinks only
	closeMain func() error
	sinks     []*logsink.Sink
}

func (f *fanout) Write(p []byte) (int, error) {
	for _, s := range f.sinks {
		s.Write(p) // never blocks, never fails: drops are the sink's
	}
	if f.main == nil {
		return len(p), nil
	}
	return f.main.Write(p)
}

// Reopen reopens the file, if the log goes to one (SIGHUP after logrotate).
func (f *fanout) Reopen() error {
	if r, ok := f.main.(interface{ Reopen() error }); ok {
		return r.Reopen()
	}
	return nil
}
