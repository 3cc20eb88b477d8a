package resolver

import (
	"context"
	"log"
	"log/slog"
	"net/netip"
	"sync/atomic"

	"github.com/bulwark-dns/bulwark/resolver/pipeline"
	"github.com/bulwark-dns/bulwark/resolver/proxyproto"
	"github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/bulwark-dns/bulwark/resolver/rcvbuf"
)

// generation is what the listeners answer with: the listen settings and
// the pipeline (with its observers) of one configuration. Reload swaps it
// whole, and a query reads it once, so one configuration answers it.
type generation struct {
	cfg   ListenConfig
	pipe  *pipeline.Pipeline
	proxy *proxyproto.Policy // nil: PROXY protocol off
}

// handler is the listeners' one way into the pipeline in force.
type handler struct {
	cur atomic.Pointer[generation]
	// notify answers NOTIFY messages (notify.go); nil: the guard's NOTIMP.
	notify atomic.Pointer[notifyBox]
}

// serve answers pkt with the generation in force; nil means send nothing.
// id is the tenant id the connection named (DoH path, TLS server name),
// "" for none: the pipeline selects the tenant (tenantid.go).
func (h *handler) serve(ctx context.Context, pkt []byte, client netip.AddrPort, proto query.Proto, id string, out []byte) []byte {
	if b, ok := h.answerNotify(pkt, client, proto); ok {
		return b
	}
	return h.cur.Load().pipe.ServeID(ctx, pkt, client, proto, id, out)
}

// listenerMetrics are the counters the listeners themselves keep.
type listenerMetrics struct{ m *pipeline.Metrics }

func (l listenerMetrics) countOverload()                    { l.m.CountOverload() }
func (l listenerMetrics) countMalformed()                   { l.m.CountMalformed() }
func (l listenerMetrics) countTCPRejected()                 { l.m.CountTCPRejected() }
func (l listenerMetrics) ProxyMetrics() *proxyproto.Metrics { return l.m.ProxyMetrics() }
func (l listenerMetrics) udpStats() *rcvbuf.Stats           { return l.m.UDPStats() }

// slogErrorLog routes net/http's internal errors (TLS handshake failures
// from scanners, mostly) to the debug log instead of stderr.
func slogErrorLog(l *slog.Logger) *log.Logger {
	return slog.NewLogLogger(l.Handler(), slog.LevelDebug)
}
