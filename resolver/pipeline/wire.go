package pipeline

import (
	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/resolver/dnswire"
)

// shapeWire finishes the cached answer out[start:], as the cache wrote it
// (client's ID, RD and letter case, aged TTLs, no OPT), for the client
// whose query header flags are qflags, as finish shapes a decoded answer:
// our header flags over the stored ones (dnswire.ShapeAnswer: QR, RA, AA
// clear, opcode, RD and CD echoed, AD only for clients asking) and our OPT
// if the client sent one (our size, its DO bit, no options: an answer with
// EDE options is decoded, never sent this way). The UDP fast path and the
// chain's wire answers both finish here; an answer too large for the
// client is the caller's to truncate (respond: pack).
func shapeWire(out []byte, start int, qflags uint16, edns, do bool, udpSize int) []byte {
	w := out[start:]
	dnswire.ShapeAnswer(w, qflags, do)
	if edns {
		out = dnswire.AppendOPT(out, uint16(udpSize), do, 0)
		w = out[start:]
		qd, an, ns, ar := dnswire.Counts(w)
		dnswire.SetCounts(w, qd, an, ns, ar+1)
	}
	return out
}

// truncate cuts the message out[start:], packed by miekg/dns (pack), to
// at most limit octets (never below 512), as Msg.Truncate and a second
// pack would: whole records are kept in order — answer, authority,
// additional — up to the first that does not fit, with room kept for the
// OPT record, which stays last; TC is set when any record had to go
// (miekg/dns v1.1.73 counts additional records too). Its compression
// points only backwards, so a prefix of the records is still a message.
// A message that is not shaped like one is cut to its question, with TC.
func truncate(out []byte, start, limit int) []byte {
	w := out[start:]
	limit = max(limit, dns.MinMsgSize)
	if len(w) <= limit {
		return out
	}
	qd, an, ns, ar := dnswire.Counts(w)
	total := [3]uint16{an, ns, ar}
	var kept [3]uint16
	optStart, optEnd := -1, -1
	full := false
	cut := -1 // where the kept records end
	qend := -1
	end, ok := dnswire.Walk(w, func(r dnswire.RR) bool {
		if qend < 0 {
			qend = r.Owner
		}
		if r.Section == dnswire.SectionAdditional && r.Type == dns.TypeOPT {
			optStart, optEnd = r.Owner, r.End()
		}
		return true
	})
	if !ok || end != len(w) || optStart >= 0 && optEnd != len(w) {
		return cutToQuestion(out, start)
	}
	if qend < 0 {
		qend = end
	}
	optLen := 0
	if optStart >= 0 {
		optLen = optEnd - optStart
		total[dnswire.SectionAdditional]--
	}
	budget := limit - optLen
	cut = qend
	dnswire.Walk(w, func(r dnswire.RR) bool {
		if r.Owner == optStart {
			return false
		}
		if full = full || r.End() > budget; !full {
			kept[r.Section]++
			cut = r.End()
		}
		return !full
	})
	if optStart >= 0 {
		cut += copy(w[cut:], w[optStart:optEnd])
	}
	dnswire.SetCounts(w, qd, kept[0], kept[1], kept[2]+uint16(min(optLen, 1)))
	if kept != total {
		dnswire.SetFlags(w, dnswire.Flags(w)|dnswire.FlagTC)
	}
	return out[:start+cut]
}

// cutToQuestion is truncate's answer for a message it cannot walk: the
// header and the question, TC set.
func cutToQuestion(out []byte, start int) []byte {
	w := out[start:]
	qd, _, _, _ := dnswire.Counts(w)
	off := dnswire.HeaderLen
	if qd > 0 {
		e, ok := dnswire.SkipName(w, off)
		if !ok || e+4 > len(w) {
			e, qd = dnswire.HeaderLen-4, 0
		}
		off = e + 4
	}
	dnswire.SetCounts(w, min(qd, 1), 0, 0, 0)
	dnswire.SetFlags(w, dnswire.Flags(w)|dnswire.FlagTC)
	return out[:start+off]
}
