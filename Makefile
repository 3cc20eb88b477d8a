# `make test` is the test suite: it installs what the tests drive (dig from
# bind9-dnsutils) when missing, then runs every Go test with the race detector.
GO ?= go

.PHONY: test deps run build bench micro vet

test: deps
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...

# Debian packages the tests need; installed only when a tool is missing.
deps:
	@command -v dig >/dev/null 2>&1 || { \
		echo "installing bind9-dnsutils (dig) for the end-to-end tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bind9-dnsutils >/dev/null; }

run:
	$(GO) run ./cmd/bulwark

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/bulwark ./cmd/bulwark

bench:
	bench/run

micro:
	bench/micro
