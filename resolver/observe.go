package resolver

import "github.com/bulwark-dns/bulwark/resolver/query"

// SetObserver installs o (nil: none) for the queries answered from now on.
// It is safe to call while serving. Queries answered by the UDP fast path
// reach o too.
func (s *Server) SetObserver(o query.Observer) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	g := *s.h.cur.Load()
	g.pipe = g.pipe.WithObserver(o)
	s.h.cur.Store(&g)
}
