package resolver

import "github.com/bulwark-dns/bulwark/resolver/query"

// observerBox lets an Observer interface value sit behind an atomic
// pointer.
type observerBox struct{ o query.Observer }

// SetObserver installs o (nil: none) for the queries answered from now on.
// It is safe to call while serving, e.g. on a config reload. Queries
// answered by the UDP fast path reach o too.
func (s *Server) SetObserver(o query.Observer) {
	if o == nil {
		s.h.observer.Store(nil)
		return
	}
	s.h.observer.Store(&observerBox{o})
}
