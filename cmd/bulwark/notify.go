package main

import (
	"net/netip"

	"github.com/miekg/dns"
)

// currentLists hands NOTIFY messages to the lists of the generation in
// force, so that a reload needs no new handler.
type currentLists struct{ d *daemon }

// HandleNotify implements resolver.NotifyHandler.
func (c currentLists) HandleNotify(pkt []byte, msg *dns.Msg, from netip.Addr) []byte {
	if g := c.d.cur.Load(); g != nil {
		return g.lists.HandleNotify(pkt, msg, from)
	}
	return nil
}
