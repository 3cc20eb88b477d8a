# `make test` is the test suite: it installs what the tests drive (dig, kdig)
# when missing, then runs every Go test with the race detector, the
# recursive resolver's with its portable exchange socket too, and vets the
# code for the other OSes Bulwark builds on.
GO ?= go

# CROSS are the other OSes and architectures `make crossvet` type-checks
# (go vet, tests included): production runs on Linux, but operators and
# developers build on macOS and the BSDs, and Windows keeps the code off
# Unix-only calls. A few seconds each once the build cache is warm.
CROSS ?= darwin/arm64 freebsd/amd64 windows/amd64

.PHONY: test deps run build bench micro vet crossvet bigendian

test: deps crossvet
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...
	$(GO) test -race -count=1 -tags bulwark_portable ./internal/udpsock ./resolver/recursive ./resolver/upstream
	$(MAKE) bigendian

# BIGENDIAN are the packages that read names and keys a machine word at a
# time (SWAR): their tests run once more as s390x, a big-endian machine,
# under qemu-user, so that a load that assumes the build machine's byte
# order fails here rather than matching wrong names on a big-endian host.
BIGENDIAN ?= ./blocklist ./feeds ./internal/pubsuffix
bigendian:
	@command -v qemu-s390x >/dev/null 2>&1 || { echo "installing qemu-user for the big-endian tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-user >/dev/null; }
	GOARCH=s390x $(GO) test -count=1 -exec qemu-s390x $(BIGENDIAN)

crossvet:
	@for p in $(CROSS); do \
		echo "go vet ./... for $$p"; \
		GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) vet ./... || exit 1; \
	done

# Debian packages the tests drive: dig (bind9-dnsutils) and kdig, for DoT
# and DoH (knot-dnsutils); promtool (prometheus) checks the alert rules and
# dashboard queries; named (bind9) serves, and dnssec-signzone (bind9-utils)
# signs, the DNSSEC test hierarchy; unbound is the validating upstream of
# the forwarding-mode DNSSEC tests; dnsdist and haproxy are the PROXY
# protocol balancers in front of Bulwark. rsyslog with its TLS driver (rsyslog-gnutls)
# receives the block log in the syslog sink tests; nsd-checkzone (nsd) checks
# the zones bench/recgen writes. knotd (knot) is the second RPZ primary of
# the zone-transfer tests; unbound and pdns_recursor (pdns-recursor) are the
# RPZ interop oracle. Installed only when a
# tool is missing.
deps:
	@missing=""; \
	command -v dig >/dev/null 2>&1 || missing="$$missing bind9-dnsutils"; \
	command -v dnstap-read >/dev/null 2>&1 || missing="$$missing bind9-dnsutils"; \
	command -v kdig >/dev/null 2>&1 || missing="$$missing knot-dnsutils"; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	command -v named >/dev/null 2>&1 || missing="$$missing bind9"; \
	command -v knotd >/dev/null 2>&1 || [ -x /usr/sbin/knotd ] || missing="$$missing knot"; \
	command -v dnssec-signzone >/dev/null 2>&1 || missing="$$missing bind9-utils"; \
	command -v unbound >/dev/null 2>&1 || missing="$$missing unbound"; \
	command -v nsd-checkzone >/dev/null 2>&1 || missing="$$missing nsd"; \
	command -v pdns_recursor >/dev/null 2>&1 || [ -x /usr/sbin/pdns_recursor ] || missing="$$missing pdns-recursor"; \
	command -v dnsdist >/dev/null 2>&1 || missing="$$missing dnsdist"; \
	command -v haproxy >/dev/null 2>&1 || missing="$$missing haproxy"; \
	command -v rsyslogd >/dev/null 2>&1 || missing="$$missing rsyslog"; \
	ls /usr/lib/*/rsyslog/lmnsd_gtls.so >/dev/null 2>&1 || missing="$$missing rsyslog-gnutls"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing for the end-to-end tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

run:
	$(GO) run ./cmd/bulwark

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/bulwark ./cmd/bulwark

bench:
	bench/run

micro:
	bench/micro
