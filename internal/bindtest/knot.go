package bindtest

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-dns/bulwark/internal/need"
	"github.com/bulwark-dns/bulwark/internal/testfile"
)

// StartKnot starts Knot DNS's knotd as the primary of o's zone, with the
// same key, dynamic updates and NOTIFY as Start: knotd keeps every change
// in its journal, so it answers IXFR from any serial it still holds. It
// skips the test if knotd is not installed (make deps installs knot).
func StartKnot(t *testing.T, o Options) *Primary {
	t.Helper()
	knotd := need.Tool(t, "knotd", "knot")
	b, zoneFile := newPrimary(t, o)
	notify := ""
	if o.Notify != 0 {
		notify = fmt.Sprintf("remote:\n  - id: bulwark\n    address: 127.0.0.1@%d\n    key: %s\n", o.Notify, KeyName)
	}
	zoneNotify := ""
	if notify != "" {
		zoneNotify = "    notify: bulwark\n"
	}
	conf := fmt.Sprintf(`server:
  rundir: "%[1]s"
  listen: 127.0.0.1@%[2]d
log:
  - target: stderr
    any: info
database:
  storage: "%[1]s"
key:
  - id: %[3]s
    algorithm: hmac-sha256
    secret: %[4]s
%[5]sacl:
  - id: signed
    key: %[3]s
    action: [transfer, update]
zone:
  - domain: %[6]s
    storage: "%[1]s"
    file: "%[7]s"
    acl: signed
    journal-content: changes
    zonefile-sync: -1
    serial-policy: increment
%[8]s`, b.dir, b.Port, KeyName, KeySecret, notify, strings.TrimSuffix(b.Zone, "."), filepath.Base(zoneFile), zoneNotify)
	confFile := testfile.Write(t, b.dir, "knot.conf", conf)
	b.run(exec.Command(knotd, "-c", confFile), len(o.Records))
	return b
}
