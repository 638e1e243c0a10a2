# Legate's developer entry points. The README's two commands are `make run`
# and `make test`; .ci/run calls `make test`.

SHELL := /bin/bash
GO ?= go
STATICCHECK_VERSION ?= v0.8.2
FUZZTIME ?= 15s
BIN := bin/legate
CONFIG_DIR ?= examples

.PHONY: all build run test unit fuzz-smoke check envoy kube chromium clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/legate

# envoy installs the pinned Envoy into the tool cache (no-op when present).
envoy:
	@./hack/install-envoy.sh >/dev/null

# kube builds kube-apiserver, kube-controller-manager and etcd from source
# into the tool cache (about 10 minutes the first time; no-op after).
kube:
	@./hack/build-kube.sh >/dev/null

# chromium installs Debian's Chromium for the diagnostics page tests (no-op
# when one is on PATH).
chromium:
	@./hack/install-chromium.sh >/dev/null

# run serves the examples/ folder with Envoy as a child process:
# HTTP on :8080, HTTPS on :8443, Envoy admin on 127.0.0.1:9901.
run: build envoy
	LEGATE_ENVOY="$$(./hack/install-envoy.sh)" $(BIN) serve --config-dir $(CONFIG_DIR) --envoy

# test is the whole suite: static checks, every Go test (golden, validator,
# ADS, grpc-go xDS client, real Envoy end to end, a real kube-apiserver and
# etcd, a headless browser), the chart's tests, a short fuzz run, a CI-sized
# benchmark, and the conformance run on a local process cluster (the
# upstream Gateway API suite and Legate's Ingress and Emissary acceptance
# specs; needs root for network namespaces).
test: check unit chart-test fuzz-smoke bench-smoke conformance

unit: envoy kube chromium
	@set -o pipefail; export LEGATE_ENVOY="$$(./hack/install-envoy.sh)"; \
	export KUBEBUILDER_ASSETS="$$(./hack/build-kube.sh)"; \
	export LEGATE_CHROMIUM="$$(./hack/install-chromium.sh)"; \
	status=0; $(GO) test -count=1 -timeout 25m -v ./... > .test.log 2>&1 || status=$$?; \
	grep -E '^(ok|FAIL|--- FAIL|--- SKIP|panic:|\?)|^\s+--- (FAIL|SKIP)' .test.log; \
	if [[ $$status -ne 0 ]]; then grep -B2 -A30 -E -- '--- FAIL|^panic:' .test.log | head -300; fi; \
	passed=$$(grep -cE -- '^\s*--- PASS' .test.log); failed=$$(grep -cE -- '^\s*--- FAIL' .test.log); \
	skipped=$$(grep -cE -- '^\s*--- SKIP' .test.log); \
	echo "tests: $$passed passed, $$failed failed, $$skipped skipped"; \
	if [[ -n "$$CI" && $$skipped -gt 0 ]]; then echo "a skipped test in CI is a defect"; exit 1; fi; \
	exit $$status

# fuzz-smoke gives every translator's fuzz target a short run; the seeds
# (golden inputs) already run in `unit`.
fuzz-smoke:
	@for pkg in ./ingress ./gatewayapi ./translators/emissary; do \
	  $(GO) test -run '^$$' -fuzz '^FuzzTranslate$$' -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [[ -n "$$out" ]]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

clean:
	rm -rf bin .test.log .conformance.log

# generate rewrites the deepcopy code of apis/ and the CRDs of the chart from
# the Go types (hack/generate.sh --check tells whether they are stale).
.PHONY: generate
generate:
	./hack/generate.sh

# image builds the one-container image (Legate + Envoy) from the Dockerfile.
IMAGE ?= legateproxy/legate
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
CONTAINER_ENGINE ?= $(shell command -v docker || command -v podman)
.PHONY: image
image:
	@if [[ -z "$(CONTAINER_ENGINE)" ]]; then echo "make image: no container engine (docker or podman) found; set CONTAINER_ENGINE" >&2; exit 1; fi
	$(CONTAINER_ENGINE) build --build-arg VERSION=$(VERSION) -t $(IMAGE):$(VERSION) .

# chart-test checks the Helm chart (lint, render, values schema, server-side
# dry-run and RBAC against a real kube-apiserver) from its own Go module, so
# Helm's dependencies stay out of Legate's.
.PHONY: chart-test
chart-test: kube
	@export KUBEBUILDER_ASSETS="$$(./hack/build-kube.sh)"; \
	cd charts/legate/tests && $(GO) vet ./... && $(GO) test -count=1 -timeout 10m ./...

# bench-smoke runs the end-to-end benchmark at CI size (N = 1k HTTPRoutes,
# file and Kubernetes providers) so that it does not rot: its table is
# printed, never judged; only a measurement that could not be made fails it.
.PHONY: bench-smoke
bench-smoke: build envoy kube
	KUBEBUILDER_ASSETS="$$(./hack/build-kube.sh)" $(GO) run ./bench/e2e -legate $(BIN) -shapes gateway -sizes 1000 -edits 20 -runs 1 -budget 30s -strict \
		-envoy "$$(./hack/install-envoy.sh)" -providers file,kubernetes -wait-status=false
	$(GO) run ./bench/e2e -legate $(BIN) -shapes gateway -sizes 1000 -edits 20 -runs 1 -budget 30s -strict -serve -delta=false

# bench runs the end-to-end benchmark and prints its table (bench/run.sh;
# LEGATE_BENCH_LARGE=1 adds N = 50k). It is not part of test.
.PHONY: bench
bench:
	./bench/run.sh

# conformance runs, on a local process cluster (conformance/localcluster:
# kube-apiserver, etcd, kube-controller-manager, pods as processes in their
# own network namespaces), the cluster's own test and the upstream Gateway
# API conformance suite against Legate and Envoy, writes the report under
# conformance/reports/ and prints its summary, and Legate's Ingress and
# Emissary acceptance specs (Ginkgo: failed specs and counts printed). Needs root. See
# conformance/README.md for the knobs (LEGATE_CONFORMANCE_*).
.PHONY: conformance
conformance: envoy kube
	@set -o pipefail; export LEGATE_ENVOY="$$(./hack/install-envoy.sh)"; \
	export KUBEBUILDER_ASSETS="$$(./hack/build-kube.sh)"; \
	cd conformance && $(GO) vet ./... && start=$$(date +%s); status=0; \
	$(GO) test -p 1 -count=1 -timeout 30m -v ./... > ../.conformance.log 2>&1 || status=$$?; \
	grep -E '^(ok|FAIL|panic:)|^\s*--- FAIL|^\s*\[FAIL\] |^Ran [0-9]+ of [0-9]+ Specs|^SUCCESS!' ../.conformance.log | grep -v '^\s*--- FAIL: TestGatewayAPI/' ; \
	sed -n '/^conformance report /,/^end of report/p' ../.conformance.log; \
	echo "conformance: $$(( $$(date +%s) - start ))s, full log in .conformance.log"; \
	exit $$status

# conformance-kind runs the same suite on a kind cluster with the Helm chart
# (needs docker or podman, kind, kubectl, helm, cloud-provider-kind); it
# creates the cluster and deletes it at the end. See hack/conformance-kind.sh.
.PHONY: conformance-kind
conformance-kind:
	./hack/conformance-kind.sh
