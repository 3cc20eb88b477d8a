package resolver

import "github.com/bulwark-dns/bulwark/blocklist"

// LogQName queues a block record for qname, for tests of the log writer.
func (l *BlockLog) LogQName(qname string) {
	l.log(blockRecord{qname: qname, table: &blocklist.Table{}})
}
