package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/bulwark-dns/bulwark/resolver/config"
	"github.com/bulwark-dns/bulwark/resolver/dnstap"
	"github.com/bulwark-dns/bulwark/resolver/logs"
	contract "github.com/bulwark-dns/bulwark/resolver/query"
)

// observers are the query log and dnstap output, watching every answer
// the server sends (log.queries, dnstap:).
type observers struct {
	qlog      *logs.QueryLog // nil: log.queries is off
	closeQlog func() error
	tap       *dnstap.Tap // nil: no dnstap socket
}

// openObservers starts what cfg asks for; nothing when both are off.
func openObservers(cfg *config.Config, pm *processMetrics, stdout io.Writer, logger *slog.Logger) (*observers, error) {
	o := &observers{}
	if cfg.Log.Queries != "off" || len(cfg.Log.SinksOf("queries")) > 0 {
		w, closeFn, err := logs.Open(cfg.Log.Queries, cfg.Log.SinksOf("queries"), stdout, os.Stderr, pm.sinks, logger)
		if err != nil {
			return nil, fmt.Errorf("query log: %w", err)
		}
		o.qlog, o.closeQlog = logs.NewQueryLog(w, cfg.Log.Sample(), pm.logs, logger), closeFn
		logger.Info("query log on", "dest", cfg.Log.Queries, "sample", cfg.Log.Sample())
	}
	if cfg.Dnstap.Enabled() {
		tap, err := dnstap.New(cfg.Dnstap, version, pm.dnstap.get(pm.reg, dnstap.NewMetrics), logger)
		if err != nil {
			o.close()
			return nil, err
		}
		o.tap = tap
	}
	return o, nil
}

// observer is what the server reports answers to; nil when nothing is on.
func (o *observers) observer() contract.Observer {
	var obs []contract.Observer
	if o.qlog != nil {
		obs = append(obs, o.qlog)
	}
	if o.tap != nil {
		obs = append(obs, o.tap)
	}
	return contract.Observers(obs...)
}

// reopenLogs reopens the block and query log files on SIGHUP, after
// logrotate moved them away; a log that cannot be reopened keeps writing
// to its old file.
func reopenLogs(blog *logs.BlockLog, o *observers, logger *slog.Logger) {
	if err := blog.Reopen(); err != nil {
		logger.Error("cannot reopen the block log; still writing to the old file", "err", err)
	}
	if o.qlog != nil {
		if err := o.qlog.Reopen(); err != nil {
			logger.Error("cannot reopen the query log; still writing to the old file", "err", err)
		}
	}
}

// close flushes the query log and the dnstap queue; call it after the
// server has stopped answering.
func (o *observers) close() {
	if o.qlog != nil {
		o.qlog.Close()
		if err := o.closeQlog(); err != nil && !errors.Is(err, os.ErrClosed) {
			// Nothing to do at exit but say so.
			fmt.Fprintln(os.Stderr, "bulwark: closing the query log:", err)
		}
	}
	if o.tap != nil {
		o.tap.Close()
	}
}
