package recursive

// ianaRootHints are the root servers of https://www.internic.net/domain/named.root
// (b.root-servers.net renumbered in November 2023). They only bootstrap:
// the resolver primes (RFC 8109) by asking one of them for the root NS set
// and uses that answer, so a hint going stale costs one failed try, and
// only all of them going stale would hurt.
var ianaRootHints = []string{
	"a.root-servers.net 198.41.0.4", "a.root-servers.net 2001:503:ba3e::2:30",
	"b.root-servers.net 170.247.170.2", "b.root-servers.net 2801:1b8:10::b",
	"c.root-servers.net 192.33.4.12", "c.root-servers.net 2001:500:2::c",
	"d.root-servers.net 199.7.91.13", "d.root-servers.net 2001:500:2d::d",
	"e.root-servers.net 192.203.230.10", "e.root-servers.net 2001:500:a8::e",
	"f.root-servers.net 192.5.5.241", "f.root-servers.net 2001:500:2f::f",
	"g.root-servers.net 192.112.36.4", "g.root-servers.net 2001:500:12::d0d",
	"h.root-servers.net 198.97.190.53", "h.root-servers.net 2001:500:1::53",
	"i.root-servers.net 192.36.148.17", "i.root-servers.net 2001:7fe::53",
	"j.root-servers.net 192.58.128.30", "j.root-servers.net 2001:503:c27::2:30",
	"k.root-servers.net 193.0.14.129", "k.root-servers.net 2001:7fd::1",
	"l.root-servers.net 199.7.83.42", "l.root-servers.net 2001:500:9f::42",
	"m.root-servers.net 202.12.27.33", "m.root-servers.net 2001:dc3::35",
}
