// Package atomicfile ends the write of a file that replaces another
// whole (feed cache bodies and metadata, snapshots, sighting bundles):
// readers see the old content or the new, never a torn write, and a
// failed write leaves no temporary file behind.
package atomicfile

import "os"

// Finish closes tmp, a temporary file in dst's directory, and renames it
// to dst if err, the outcome of writing tmp, is nil. Where err is set or
// the close or rename fails, it removes tmp. It returns the first error.
// Callers that need the content durable Sync tmp before (and the
// directory after).
func Finish(tmp *os.File, dst string, err error) error {
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
	}
	return err
}
