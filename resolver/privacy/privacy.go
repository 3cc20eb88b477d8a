// Package privacy decides how much of a client's address leaves the
// resolver: in the block log, the query log, dnstap frames and the admin
// pages. An ISP answers to its regulator for what it records about
// subscribers, so each destination (and each tenant) chooses one of four
// modes, and every writer of a client address asks a Masker rather than
// formatting the address itself.
//
// The modes (docs/ARCHITECTURE.md, "Logs"; README "Privacy"):
//   - full: the address as received.
//   - truncate: the network only, as a prefix ("198.51.100.0/24",
//     "2001:db8:a:100::/56" by default), which keeps a report per site
//     useful without naming a subscriber.
//   - hash: a keyed HMAC-SHA-256 of the address, "hmac:" and 32 hex digits.
//     The key changes every rotation period (a UTC day by default), so one
//     client's records link within a period and not across periods; an
//     operator running several instances gives them one key file so that
//     they agree.
//   - omit: no address at all; the field is left out.
package privacy

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bulwark-dns/bulwark/internal/cfgerr"
)

// Mode is how a client address is recorded.
type Mode uint8

// The modes, in increasing order of what they hide.
const (
	Full Mode = iota
	Truncate
	Hash
	Omit
)

var modeNames = [...]string{Full: "full", Truncate: "truncate", Hash: "hash", Omit: "omit"}

// String returns the mode's config name.
func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("mode(%d)", m)
}

// ParseMode parses a config name; "" is Full (today's behaviour and the
// default, so that existing configs keep their logs).
func ParseMode(s string) (Mode, error) {
	if s == "" {
		return Full, nil
	}
	for i, n := range modeNames {
		if s == n {
			return Mode(i), nil
		}
	}
	return Full, fmt.Errorf("%q is not one of full, truncate, hash, omit", s)
}

// Config is one `client:` setting with its parameters, as it appears in a
// log section, a sink or a tenant's `log:`.
type Config struct {
	// Client is the mode: full (default), truncate, hash or omit.
	Client string `yaml:"client"`
	// TruncateIPv4 and TruncateIPv6 are the prefix lengths kept by
	// truncate; 0 means the default, /24 and /56 (a site and a
	// subscriber's delegation, as RFC 6177 sizes them).
	TruncateIPv4 int `yaml:"truncate_ipv4"`
	TruncateIPv6 int `yaml:"truncate_ipv6"`
	// HashKeyFile holds the secret the hash keys are derived from (at
	// least 16 bytes). Without it a random secret is made at start: hashes
	// then differ between instances and across restarts.
	HashKeyFile string `yaml:"hash_key_file"`
	// HashRotation is how long one derived key is used; 0 means 24h.
	// Periods start at the Unix epoch, so a day is a UTC day.
	HashRotation time.Duration `yaml:"hash_rotation"`
	// Secret is the hash secret when HashKeyFile is unset: the daemon
	// makes one per process, so that every log (and every reload) hashes
	// a client alike. Nil makes a random one per Masker.
	Secret []byte `yaml:"-"`
}

// Defaults for the parameters.
const (
	DefaultTruncateIPv4 = 24
	DefaultTruncateIPv6 = 56
	DefaultHashRotation = 24 * time.Hour
	minKeyLen           = 16
)

// Validate reports every invalid value; path is the section's YAML path.
// also are the other modes that use these parameters (a log's override, a
// tenant's mode): hash_key_file is an error only when no mode hashes. It
// does not read the key file (New does), so `check` on another host does
// not need the secret.
func (c *Config) Validate(path string, also ...string) []error {
	var errs []error
	mode, err := ParseMode(c.Client)
	if err != nil {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "client"), "%v", err))
	}
	if c.TruncateIPv4 < 0 || c.TruncateIPv4 > 32 {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "truncate_ipv4"), "%d is outside 0-32", c.TruncateIPv4))
	}
	if c.TruncateIPv6 < 0 || c.TruncateIPv6 > 128 {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "truncate_ipv6"), "%d is outside 0-128", c.TruncateIPv6))
	}
	if c.HashRotation < 0 || (c.HashRotation > 0 && c.HashRotation < time.Minute) {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "hash_rotation"), "%s is below 1m", c.HashRotation))
	}
	if c.HashKeyFile != "" && mode != Hash && err == nil && !slices.Contains(also, Hash.String()) {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "hash_key_file"), "is used only with client: hash (client is %q)", mode))
	}
	return errs
}

// Masker records client addresses as one Config says. It is safe for
// concurrent use. Full and Truncate allocate nothing; Hash computes an HMAC
// per address, which is why records are masked on the log writers'
// goroutines, never on the query path.
type Masker struct {
	mode   Mode
	v4, v6 int
	rot    time.Duration
	secret []byte

	mu     sync.Mutex
	period int64
	mac    hash.Hash // HMAC under the key of period
}

// New builds the Masker of cfg; cfg must have passed Validate.
func New(cfg Config) (*Masker, error) {
	mode, err := ParseMode(cfg.Client)
	if err != nil {
		return nil, err
	}
	m := &Masker{mode: mode, v4: cfg.TruncateIPv4, v6: cfg.TruncateIPv6, rot: cfg.HashRotation, period: -1}
	if m.v4 == 0 {
		m.v4 = DefaultTruncateIPv4
	}
	if m.v6 == 0 {
		m.v6 = DefaultTruncateIPv6
	}
	if m.rot == 0 {
		m.rot = DefaultHashRotation
	}
	if mode != Hash {
		return m, nil
	}
	if cfg.HashKeyFile != "" {
		b, err := os.ReadFile(cfg.HashKeyFile)
		if err != nil {
			return nil, fmt.Errorf("hash_key_file: %w", err)
		}
		b = []byte(strings.TrimRight(string(b), "\r\n"))
		if len(b) < minKeyLen {
			return nil, fmt.Errorf("hash_key_file %s: the secret is %d bytes; at least %d are needed", cfg.HashKeyFile, len(b), minKeyLen)
		}
		m.secret = b
		return m, nil
	}
	if len(cfg.Secret) > 0 {
		m.secret = cfg.Secret
		return m, nil
	}
	if m.secret, err = NewSecret(); err != nil {
		return nil, err
	}
	return m, nil
}

// NewSecret returns a random hash secret, for Config.Secret.
func NewSecret() ([]byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("making the client hash secret: %w", err)
	}
	return b, nil
}

// Mode returns the masker's mode. A nil Masker is Full.
func (m *Masker) Mode() Mode {
	if m == nil {
		return Full
	}
	return m.mode
}

// Prefix returns the network a truncated address is recorded as.
func (m *Masker) Prefix(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := m.v6
	if a.Is4() {
		bits = m.v4
	}
	p, _ := a.Prefix(bits)
	return p
}

// AppendClient appends the client as the mode records it, for a JSON string
// or a syslog parameter (the result never needs escaping). ok is false in
// Omit mode and for an invalid address: the caller leaves the field out.
// A nil Masker is Full.
func (m *Masker) AppendClient(dst []byte, a netip.Addr, now time.Time) (_ []byte, ok bool) {
	if !a.IsValid() {
		return dst, false
	}
	switch m.Mode() {
	case Full:
		return a.AppendTo(dst), true
	case Truncate:
		return m.Prefix(a).AppendTo(dst), true
	case Hash:
		var sum [sha256.Size]byte
		m.hash(sum[:0], a, now)
		dst = append(dst, "hmac:"...)
		return hex.AppendEncode(dst, sum[:16]), true
	}
	return dst, false
}

// Client returns AppendClient's text as a string, "" when omitted.
func (m *Masker) Client(a netip.Addr, now time.Time) string {
	var buf [64]byte
	b, ok := m.AppendClient(buf[:0], a, now)
	if !ok {
		return ""
	}
	return string(b)
}

// WireAddr returns the address to put where a protocol needs an address
// (dnstap's query_address): Full gives it as is, Truncate the network's
// first address; Hash and Omit give no address (ok false): a made-up
// address would be mistaken for a real one.
func (m *Masker) WireAddr(a netip.Addr) (netip.Addr, bool) {
	switch m.Mode() {
	case Full:
		return a, a.IsValid()
	case Truncate:
		if !a.IsValid() {
			return a, false
		}
		return m.Prefix(a).Addr(), true
	}
	return netip.Addr{}, false
}

// hash appends HMAC-SHA-256(key of now's period, address bytes) to dst.
// One HMAC per period is kept and reset per address, under mu: building
// one per address cost most of a hashed log line.
func (m *Masker) hash(dst []byte, a netip.Addr, now time.Time) []byte {
	a = a.Unmap()
	var b [16]byte
	n := 16
	if a.Is4() {
		b4 := a.As4()
		n = copy(b[:], b4[:])
	} else {
		b = a.As16()
	}
	period := now.UnixNano() / int64(m.rot)
	m.mu.Lock()
	defer m.mu.Unlock()
	if period != m.period || m.mac == nil {
		m.mac = hmac.New(sha256.New, periodKey(m.secret, period))
		m.period = period
	}
	m.mac.Reset()
	m.mac.Write(b[:n])
	return m.mac.Sum(dst)
}

// periodKey derives one period's key from the secret, so that knowing one
// day's key says nothing of another day's.
func periodKey(secret []byte, period int64) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte("bulwark client hash\x00"))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(period))
	h.Write(b[:])
	return h.Sum(nil)
}
