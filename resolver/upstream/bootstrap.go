package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sync/singleflight"

	"github.com/bulwark-dns/bulwark/resolver/dnswire"
)

// Bootstrap answers are cached within these bounds: short enough to
// follow a provider's address change, long enough not to ask per dial.
const (
	bootstrapMinTTL = 30 * time.Second
	bootstrapMaxTTL = time.Hour
)

// bootstrap resolves the host names of tls:// and https:// servers through
// plain-DNS servers given by IP, never the system resolver (which may be
// Bulwark itself: a loop). A lookup that fails keeps using the last
// addresses found.
type bootstrap struct {
	f     *Forwarder
	group *group
	sf    singleflight.Group

	mu    sync.Mutex
	cache map[string]bootEntry
}

type bootEntry struct {
	addrs   []netip.Addr
	expires time.Time
}

// lookup returns host's addresses, IPv4 first.
func (bs *bootstrap) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	bs.mu.Lock()
	e, cached := bs.cache[host]
	bs.mu.Unlock()
	if cached && bs.f.clock.Now().Before(e.expires) {
		return e.addrs, nil
	}
	v, err, _ := bs.sf.Do(host, func() (any, error) { return bs.resolve(ctx, host) })
	if err != nil {
		if cached {
			bs.f.log.LogAttrs(ctx, slog.LevelWarn, "bootstrap lookup failed; using the addresses found before",
				slog.String("host", host), slog.Any("error", err))
			return e.addrs, nil
		}
		return nil, err
	}
	return v.([]netip.Addr), nil
}

// resolve asks the bootstrap servers for host's A and AAAA records at
// once, and caches what it finds for the shortest TTL (within bounds).
func (bs *bootstrap) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	var msgs [2]*dns.Msg
	var errs [2]error
	var wg sync.WaitGroup
	for i, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msgs[i], errs[i] = bs.f.query(ctx, bs.group, dns.Question{Name: dns.Fqdn(host), Qtype: qtype, Qclass: dns.ClassINET})
		}()
	}
	wg.Wait()
	var addrs []netip.Addr
	ttl := bootstrapMaxTTL
	for _, msg := range msgs {
		if msg == nil {
			continue
		}
		for _, rr := range msg.Answer {
			if a, ok := dnswire.Addr(rr); ok && !a.IsUnspecified() {
				addrs = append(addrs, a)
				ttl = min(ttl, time.Duration(rr.Header().Ttl)*time.Second)
			}
		}
	}
	if len(addrs) == 0 {
		if err := errors.Join(errs[:]...); err != nil {
			return nil, fmt.Errorf("bootstrap: resolve %s: %w", host, err)
		}
		return nil, fmt.Errorf("bootstrap: %s has no A or AAAA records", host)
	}
	ttl = max(ttl, bootstrapMinTTL)
	bs.mu.Lock()
	bs.cache[host] = bootEntry{addrs: addrs, expires: bs.f.clock.Now().Add(ttl)}
	bs.mu.Unlock()
	return addrs, nil
}
